// `berth addons`: create, list, show, attach, detach and destroy add-on databases.
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Command } from 'commander';
import { createWebSocketStream, WebSocket } from 'ws';
import type { ApiClient } from '../api-client.js';
import { withExamples, type CliContext } from '../context.js';
import { ApiError, UsageError } from '../errors.js';
import { line, printFields, printJson, printTable } from '../output.js';
import { ask, canPrompt } from '../prompt.js';

interface AddonJson {
  readonly name: string;
  readonly kind: string;
  readonly version: string;
  readonly status: string;
  readonly restarts: number;
  readonly sizeBytes?: number;
  readonly createdAt: string;
  readonly backupSchedule: {
    readonly expression: string;
    readonly retain: number;
    readonly next: string | null;
  } | null;
  readonly attachments: readonly { app: string; alias: string; variable: string }[];
  readonly url?: string;
}

interface BackupJson {
  readonly name: string;
  readonly kind: string;
  readonly status: string;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly error: string | null;
  readonly createdAt: string;
}

/** Asks for the name (or takes --confirm); the server checks the answer too. */
async function confirmation(
  name: string,
  given: string | undefined,
  what: string,
): Promise<string> {
  if (given !== undefined) return given;
  if (!canPrompt()) {
    throw new UsageError(`${what} '${name}' needs --confirm ${name} when there is no terminal`);
  }
  return (await ask(`${what} '${name}' cannot be undone; type its name to go on: `)).trim();
}

/**
 * Runs a database client against the add-on through a tunnel of the API's (the server's port
 * stays on the controller's loopback): a listener on this machine's loopback whose every
 * connection is carried over a WebSocket to the add-on. Resolves with the client's exit code.
 */
async function throughTunnel(
  client: ApiClient,
  name: string,
  run: (port: number) => { file: string; args: string[]; env: Record<string, string> },
): Promise<number> {
  const tunnelUrl = `${client.server.replace(/^http/, 'ws')}/api/v1${addonPath(name)}/tunnel`;
  const listener = net.createServer((local) => {
    const socket = new WebSocket(tunnelUrl, {
      headers: { authorization: `Bearer ${client.token ?? ''}` },
    });
    socket.once('unexpected-response', (_request, response) => {
      process.stderr.write(
        `error: the tunnel to ${name} was refused (HTTP ${response.statusCode})\n`,
      );
      local.destroy();
    });
    socket.once('error', () => local.destroy());
    socket.once('open', () => {
      const remote = createWebSocketStream(socket);
      remote.once('error', () => local.destroy());
      local.once('error', () => remote.destroy());
      local.pipe(remote).pipe(local);
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as net.AddressInfo;
  try {
    const { file, args, env } = run(port);
    const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ENOENT'
            ? new UsageError(
                `${file} is not installed here (apt-get install ${file === 'psql' ? 'postgresql-client' : 'redis-tools'})`,
              )
            : error,
        ),
      );
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    listener.close();
  }
}

function addonPath(name: string): string {
  return `/addons/${encodeURIComponent(name)}`;
}

function size(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function attached(addon: AddonJson): string {
  return addon.attachments.map((a) => `${a.app} (${a.variable})`).join(', ') || '-';
}

function releaseNote(release: number | undefined): string {
  return release === undefined
    ? 'no release yet: the first deploy gets it'
    : `release v${release} rolling out`;
}

export function registerAddons(program: Command, context: CliContext): void {
  const addons = program
    .command('addons')
    .description('add-on databases (PostgreSQL, Redis): created once, kept until destroyed');
  withExamples(
    addons,
    'berth addons create postgres --app shop',
    'berth addons info shop-postgres --reveal',
    'berth addons attach cache shop --as SESSIONS',
  );

  addons
    .command('list', { isDefault: true })
    .description('the add-ons you may use, with kind, version, status, size and attached apps')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const client = await context.client();
      const listed = await client.get<AddonJson[]>('/addons');
      if (options.json) return printJson(listed);
      printTable(
        ['NAME', 'KIND', 'VERSION', 'STATUS', 'SIZE', 'ATTACHED TO'],
        listed.map((a) => [a.name, a.kind, a.version, a.status, size(a.sizeBytes), attached(a)]),
        'no add-ons',
      );
    });

  withExamples(
    addons
      .command('create')
      .description('create an add-on, and attach it to an app with --app')
      .argument('<kind>', 'postgres or redis')
      .argument('[name]', 'its name (default: <app>-<kind>, or <kind>-<random>)')
      .option('-a, --app <app>', 'attach it to this app')
      .option('--as <alias>', 'the alias: the app gets <ALIAS>_URL (default DATABASE or REDIS)')
      .option('--json', 'print JSON')
      .action(
        async (
          kind: string,
          name: string | undefined,
          options: { app?: string; as?: string; json?: boolean },
        ) => {
          if (options.as !== undefined && options.app === undefined) {
            throw new UsageError('--as names the variable an app gets: give --app too');
          }
          const client = await context.client();
          const created = await client.post<{ addon: AddonJson; release?: number }>('/addons', {
            kind,
            ...(name === undefined ? {} : { name }),
            ...(options.app === undefined ? {} : { app: options.app }),
            ...(options.as === undefined ? {} : { as: options.as }),
          });
          if (options.json) return printJson(created);
          const { addon } = created;
          line(`created ${addon.kind} ${addon.version} add-on ${addon.name}`);
          for (const a of addon.attachments) {
            line(`attached to ${a.app} as ${a.variable}; ${releaseNote(created.release)}`);
          }
        },
      ),
    'berth addons create redis cache --app shop --as SESSIONS',
  );

  withExamples(
    addons
      .command('info')
      .description('an add-on: status, size, attachments; its URL and password with --reveal')
      .argument('<name>', 'the add-on')
      .option('--reveal', 'show the URL with its password (needs a token with write)')
      .option('--json', 'print JSON')
      .action(async (name: string, options: { reveal?: boolean; json?: boolean }) => {
        const client = await context.client();
        const addon = await client.get<AddonJson>(
          addonPath(name),
          options.reveal ? { reveal: 'true' } : undefined,
        );
        if (options.json) return printJson(addon);
        printFields([
          ['name', addon.name],
          ['kind', `${addon.kind} ${addon.version}`],
          [
            'status',
            `${addon.status}${addon.restarts > 0 ? `, ${addon.restarts} restart(s)` : ''}`,
          ],
          ['size', size(addon.sizeBytes)],
          ['created', addon.createdAt],
          ['attached to', attached(addon)],
          [
            'backups',
            addon.backupSchedule
              ? `${addon.backupSchedule.expression} (UTC), keeping ${addon.backupSchedule.retain}; next ${addon.backupSchedule.next ?? '-'}`
              : 'by hand only',
          ],
          ...(addon.url === undefined ? [] : ([['url', addon.url]] as const)),
        ]);
      }),
    'berth addons info shop-postgres --reveal',
  );

  addons
    .command('attach')
    .description("attach an add-on to an app: the app's next release gets <ALIAS>_URL")
    .argument('<name>', 'the add-on')
    .argument('<app>', 'the app')
    .option('--as <alias>', 'the alias (default DATABASE or REDIS)')
    .action(async (name: string, app: string, options: { as?: string }) => {
      const client = await context.client();
      const { attachment, release } = await client.post<{
        attachment: { variable: string };
        release?: number;
      }>(`${addonPath(name)}/attachments`, {
        app,
        ...(options.as === undefined ? {} : { as: options.as }),
      });
      line(`attached ${name} to ${app} as ${attachment.variable}; ${releaseNote(release)}`);
    });

  addons
    .command('detach')
    .description("detach an add-on from an app: its variable leaves the app's next release")
    .argument('<name>', 'the add-on')
    .argument('<app>', 'the app')
    .action(async (name: string, app: string) => {
      const client = await context.client();
      const { body } = await client.request<{ release?: number }>(
        'DELETE',
        `${addonPath(name)}/attachments/${encodeURIComponent(app)}`,
      );
      line(`detached ${name} from ${app}; ${releaseNote(body.release)}; its data is kept`);
    });

  withExamples(
    addons
      .command('backup')
      .description('back an add-on up now: checked readable before it counts (exit 1 if not)')
      .argument('<name>', 'the add-on')
      .option('--json', 'print JSON')
      .action(async (name: string, options: { json?: boolean }) => {
        const client = await context.client();
        const made = await client.post<BackupJson>(`${addonPath(name)}/backups`);
        if (options.json) return printJson(made);
        line(
          `backed up ${name}: ${made.name} (${size(made.sizeBytes ?? undefined)}, sha256 ${made.sha256 ?? '?'})`,
        );
      }),
    'berth addons backup shop-postgres',
  );

  withExamples(
    addons
      .command('schedule')
      .description(
        'back an add-on up on a schedule (UTC), keeping the newest --retain; off stops it',
      )
      .argument('<name>', 'the add-on')
      .argument('<schedule>', 'hourly, daily (03:00), weekly, "<cron fields>", or off')
      .option('--retain <n>', 'succeeded backups kept (default 7)')
      .action(async (name: string, schedule: string, options: { retain?: string }) => {
        const retain = options.retain === undefined ? undefined : Number(options.retain);
        if (retain !== undefined && !Number.isInteger(retain)) {
          throw new UsageError(`--retain takes a whole number; got '${options.retain ?? ''}'`);
        }
        const client = await context.client();
        const { body } = await client.request<AddonJson>(
          'PUT',
          `${addonPath(name)}/backup-schedule`,
          {
            body: {
              schedule: schedule === 'off' ? null : schedule,
              ...(retain === undefined ? {} : { retain }),
            },
          },
        );
        const set = body.backupSchedule;
        line(
          set
            ? `${name} is backed up on ${set.expression} (UTC), keeping ${set.retain}; next at ${set.next ?? '-'}`
            : `${name} is backed up by hand only`,
        );
      }),
    'berth addons schedule shop-postgres daily --retain 14',
    'berth addons schedule cache "0 */6 * * *"',
  );

  addons
    .command('backups')
    .description("an add-on's backups, newest first, failed ones with why")
    .argument('<name>', 'the add-on')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const client = await context.client();
      const listed = await client.get<BackupJson[]>(`${addonPath(name)}/backups`);
      if (options.json) return printJson(listed);
      printTable(
        ['BACKUP', 'STATUS', 'SIZE', 'MADE', 'ERROR'],
        listed.map((b) => [b.name, b.status, size(b.sizeBytes ?? undefined), b.createdAt, b.error]),
        'no backups',
      );
    });

  withExamples(
    addons
      .command('download')
      .description('download a backup, checked against its SHA-256')
      .argument('<name>', 'the add-on')
      .argument('<backup>', 'the backup (berth addons backups NAME)')
      .option('-o, --output <file>', 'where to write it (default <name>-<backup>.dump|.rdb)')
      .action(async (name: string, backup: string, options: { output?: string }) => {
        const client = await context.client();
        const path = `${addonPath(name)}/backups/${encodeURIComponent(backup)}`;
        // The server names the file (<name>-<backup>.dump|.rdb) unless -o does.
        const got = await client.download(
          path,
          (headers) =>
            options.output ??
            /filename="([^"/\\]+)"/.exec(headers.get('content-disposition') ?? '')?.[1] ??
            `${name}-${backup}`,
        );
        const file = got.file;
        const expected = got.headers.get('berth-sha256');
        if (expected && expected !== got.sha256) {
          throw new UsageError(
            `the download of ${backup} does not match its SHA-256; ${file} is not it`,
          );
        }
        line(`wrote ${file} (${size(got.bytes)}, sha256 ${got.sha256})`);
      }),
    'berth addons download shop-postgres b-20261203T122000123Z -o shop.dump',
  );

  withExamples(
    addons
      .command('restore')
      .description('restore a backup into the add-on, or --into another (made when absent)')
      .argument('<name>', 'the add-on the backup is of')
      .argument('<backup>', 'the backup (berth addons backups NAME)')
      .option('--into <other>', 'restore into this add-on instead (a new one is made)')
      .option('--confirm <name>', "the target's name again, to replace its data without a question")
      .action(
        async (name: string, backup: string, options: { into?: string; confirm?: string }) => {
          const client = await context.client();
          const body = (confirm: string | undefined) => ({
            backup,
            ...(options.into === undefined ? {} : { into: options.into }),
            ...(confirm === undefined ? {} : { confirm }),
          });
          const target = options.into ?? name;
          let confirm = options.confirm;
          // A new add-on needs no confirmation; an existing one is asked for once the server says so.
          if (options.into === undefined)
            confirm = await confirmation(target, confirm, 'restoring into');
          let restored;
          try {
            restored = await client.post<{ addon: AddonJson }>(
              `${addonPath(name)}/restores`,
              body(confirm),
            );
          } catch (error) {
            if (
              !(error instanceof ApiError) ||
              error.code !== 'CONFIRMATION_REQUIRED' ||
              confirm !== undefined
            )
              throw error;
            restored = await client.post<{ addon: AddonJson }>(
              `${addonPath(name)}/restores`,
              body(await confirmation(target, undefined, 'restoring into')),
            );
          }
          line(`restored ${backup} of ${name} into ${restored.addon.name}`);
        },
      ),
    'berth addons restore shop-postgres b-20261203T122000123Z --confirm shop-postgres',
  );

  for (const [command, kind] of [
    ['psql', 'postgres'],
    ['redis-cli', 'redis'],
  ] as const) {
    withExamples(
      addons
        .command(command)
        .description(`an interactive ${command} on a ${kind} add-on, through Berth (needs write)`)
        .argument('<name>', 'the add-on')
        .argument('[args...]', `more arguments for ${command}, after --`)
        .action(async (name: string, args: string[]) => {
          const client = await context.client();
          const addon = await client.get<AddonJson>(addonPath(name), { reveal: 'true' });
          if (addon.kind !== kind || !addon.url) {
            throw new UsageError(
              `${name} is a ${addon.kind} add-on: use berth addons ${addon.kind === 'redis' ? 'redis-cli' : 'psql'}`,
            );
          }
          const url = new URL(addon.url);
          const password = decodeURIComponent(url.password);
          // The password goes in the environment, never on a command line others can read.
          const code = await throughTunnel(client, name, (port) =>
            kind === 'postgres'
              ? {
                  file: 'psql',
                  args,
                  env: {
                    PGHOST: '127.0.0.1',
                    PGPORT: String(port),
                    PGUSER: decodeURIComponent(url.username),
                    PGPASSWORD: password,
                    PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
                  },
                }
              : {
                  file: 'redis-cli',
                  args: [
                    '-h',
                    '127.0.0.1',
                    '-p',
                    String(port),
                    '--user',
                    'default',
                    '--no-auth-warning',
                    ...args,
                  ],
                  env: { REDISCLI_AUTH: password },
                },
          );
          process.exitCode = code;
        }),
      `berth addons ${command} ${kind === 'postgres' ? 'shop-postgres' : 'cache'}`,
      `berth addons ${command} ${kind === 'postgres' ? "shop-postgres -- -c 'SELECT 1'" : 'cache -- PING'}`,
    );
  }

  withExamples(
    addons
      .command('destroy')
      .description('destroy an add-on and its data, for good (detach it first)')
      .argument('<name>', 'the add-on')
      .option('--confirm <name>', 'the add-on name again, to destroy without a question')
      .action(async (name: string, options: { confirm?: string }) => {
        const confirm = await confirmation(name, options.confirm, 'destroying');
        const client = await context.client();
        // The server checks the confirmation too: a mismatch is refused there, with nothing lost.
        await client.request('DELETE', addonPath(name), { query: { confirm } });
        line(`destroyed add-on ${name} and its data`);
      }),
    'berth addons destroy cache --confirm cache',
  );
}
