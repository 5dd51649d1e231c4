// `berth keys add [FILE] --name N`, `berth keys list [--json]`, `berth keys remove ID`: the SSH
// public keys of your user, for `git push ssh://git@HOST:PORT/<app>.git`.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../api-client.js';
import { ApiError, CliError, UsageError } from '../errors.js';
import { line, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

interface KeyRecord {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly fingerprint: string;
  readonly createdAt: string;
}

/** The public keys tried, in order, when `keys add` is given no file. */
const DEFAULT_KEYS = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'];

/** A server without the keys API answers 404: say so rather than pretend. */
async function keysApi<T>(client: ApiClient, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.code !== 'KEY_NOT_FOUND') {
      throw new CliError(
        `NOT_AVAILABLE: SSH keys are not available on this server yet (${client.server} has no /keys API)`,
      );
    }
    throw error;
  }
}

/** The public key line to add: FILE, `-` (stdin), or the first of ~/.ssh's usual keys. */
async function readPublicKey(file: string | undefined): Promise<{ text: string; from: string }> {
  if (file === '-') {
    let text = '';
    process.stdin.setEncoding('utf8');
    for await (const chunk of process.stdin as AsyncIterable<string>) text += chunk;
    return { text, from: 'stdin' };
  }
  const candidates =
    file === undefined ? DEFAULT_KEYS.map((name) => path.join(os.homedir(), '.ssh', name)) : [file];
  for (const candidate of candidates) {
    const text = await readFile(candidate, 'utf8').catch(() => undefined);
    if (text !== undefined) return { text, from: candidate };
  }
  throw new UsageError(
    file === undefined
      ? `no public key in ~/.ssh (${DEFAULT_KEYS.join(', ')}); give the .pub file to add`
      : `cannot read ${file}`,
  );
}

export function registerKeys(program: Command, context: CliContext): void {
  const keys = program
    .command('keys')
    .description('SSH public keys of your user, for git push over SSH: add, list, remove');
  withExamples(keys, 'berth keys add ~/.ssh/id_ed25519.pub --name laptop', 'berth keys list');

  const list = async (options: { json?: boolean }) => {
    const client = await context.client();
    const all = await keysApi(client, () => client.get<KeyRecord[]>('/keys'));
    if (options.json) return printJson(all);
    printTable(
      ['ID', 'NAME', 'TYPE', 'FINGERPRINT', 'CREATED'],
      all.map((k) => [k.id, k.name, k.type, k.fingerprint, k.createdAt]),
      'no keys',
    );
  };
  withExamples(
    keys
      .command('list', { isDefault: true })
      .description('your SSH keys')
      .option('--json', 'print JSON')
      .action(list),
    'berth keys list --json',
  );

  withExamples(
    keys
      .command('add')
      .description('add a public key (default: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub)')
      .argument('[file]', 'the public key file (.pub), or - for stdin')
      .option('-n, --name <name>', "what the key is (default: the key's comment)")
      .option('--json', 'print the added key as JSON')
      .action(async (file: string | undefined, options: { name?: string; json?: boolean }) => {
        const { text, from } = await readPublicKey(file);
        // Checked here too, so that a private key never leaves this machine.
        if (text.includes('PRIVATE KEY'))
          throw new UsageError(`${from} is a private key: give its .pub file`);
        const client = await context.client();
        const added = await keysApi(client, () =>
          client.post<KeyRecord>('/keys', {
            publicKey: text.trim(),
            ...(options.name === undefined ? {} : { name: options.name }),
          }),
        );
        if (options.json) return printJson(added);
        line(`added key ${added.id} '${added.name}' (${added.type} ${added.fingerprint})`);
      }),
    'berth keys add ~/.ssh/id_ed25519.pub --name laptop',
  );

  withExamples(
    keys
      .command('remove')
      .description('remove a key: it no longer pushes')
      .argument('<id>', 'the key id (berth keys list)')
      .action(async (id: string) => {
        const client = await context.client();
        await keysApi(client, () => client.delete(`/keys/${encodeURIComponent(id)}`));
        line(`removed key ${id}`);
      }),
    'berth keys remove 0b6f…',
  );
}
