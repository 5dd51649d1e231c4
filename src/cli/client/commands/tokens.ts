// `berth tokens create NAME --scope read ...`, `berth tokens list`, `berth tokens revoke ID`.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { line, note, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: string[];
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

const SCOPES = ['read', 'write', 'delete', 'admin'];

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerTokens(program: Command, context: CliContext): void {
  const tokens = program
    .command('tokens')
    .description('API tokens of your user: create, list, revoke');
  withExamples(
    tokens,
    'berth tokens create ci --scope read --scope write',
    'berth tokens list --json',
  );

  const list = async (options: { json?: boolean }) => {
    const client = await context.client();
    const all = await client.get<TokenRecord[]>('/tokens');
    if (options.json) return printJson(all);
    printTable(
      ['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
      all.map((t) => [
        t.id,
        t.name,
        t.scopes.join(','),
        t.createdAt,
        t.lastUsedAt,
        t.expiresAt,
        t.revokedAt,
      ]),
      'no tokens',
    );
  };
  withExamples(
    tokens
      .command('list', { isDefault: true })
      .description('your tokens (never their values)')
      .option('--json', 'print JSON')
      .action(list),
    'berth tokens list',
  );

  withExamples(
    tokens
      .command('create')
      .description('create a token; its value is shown this once')
      .argument('<name>', 'what the token is for')
      .option('-s, --scope <scope>', `a scope (${SCOPES.join(', ')}); repeat for more`, collect)
      .option('--expires <iso-date>', 'when it stops working (ISO-8601)')
      .option('--json', 'print {id, token, …} as JSON')
      .action(
        async (name: string, options: { scope?: string[]; expires?: string; json?: boolean }) => {
          const scopes = options.scope ?? ['read'];
          const unknown = scopes.filter((s) => !SCOPES.includes(s));
          if (unknown.length > 0)
            throw new UsageError(
              `unknown scope '${unknown.join("', '")}'; scopes: ${SCOPES.join(', ')}`,
            );
          let expiresAt: string | undefined;
          if (options.expires !== undefined) {
            const at = new Date(options.expires);
            if (Number.isNaN(at.getTime()))
              throw new UsageError(`--expires takes an ISO-8601 date, got '${options.expires}'`);
            expiresAt = at.toISOString();
          }
          const client = await context.client();
          const created = await client.post<TokenRecord & { token: string }>('/tokens', {
            name,
            scopes: [...new Set(scopes)],
            ...(expiresAt ? { expiresAt } : {}),
          });
          if (options.json) return printJson(created);
          // The one place a token is printed: it cannot be shown again.
          line(created.token);
          note(
            `created token ${created.id} (${created.scopes.join(',')}); it is shown only this once`,
          );
        },
      ),
    'berth tokens create deploy-bot --scope read --scope write',
  );

  withExamples(
    tokens
      .command('revoke')
      .description('revoke a token at once')
      .argument('<id>', 'the token id (berth tokens list)')
      .action(async (id: string) => {
        const client = await context.client();
        await client.delete(`/tokens/${encodeURIComponent(id)}`);
        line(`revoked token ${id}`);
      }),
    'berth tokens revoke 0b6f…',
  );
}
