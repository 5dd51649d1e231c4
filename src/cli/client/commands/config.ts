// `berth config APP`, `berth config set APP K=V ...`, `berth config unset APP K ...`.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { appAndItems, requireApp } from '../app-name.js';
import { UsageError } from '../errors.js';
import { line, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

type ConfigMap = Record<string, string | null>;

interface SetOptions {
  readonly app?: string;
  readonly json?: boolean;
  /** Sent as ?allowRuntimeKeys=true: the owner means to set LD_PRELOAD and the like. */
  readonly allowRuntimeKeys?: boolean;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** The usage error for a key KEY refuses, saying the rule (the server's, too). */
function badKey(key: string): UsageError {
  return new UsageError(
    `'${key}' is not a config key: a key starts with a letter or '_', holds only letters, ` +
      `digits and '_', and has at most 256 characters`,
  );
}

/** What a config change led to: the release PATCH made (its `berth-release` header), if any. */
function releaseNote(headers: Headers): string {
  const version = headers.get('berth-release');
  return version
    ? `release v${version} rolling out`
    : 'no new release (nothing changed, or nothing deployed yet)';
}

function printConfig(config: ConfigMap, json: boolean): void {
  if (json) return printJson(config);
  printTable(
    ['KEY', 'VALUE'],
    Object.keys(config)
      .sort()
      .map((key) => [key, config[key] ?? '(hidden: needs the write scope)']),
    'no config vars',
  );
}

export function registerConfig(program: Command, context: CliContext): void {
  const config = program.command('config').description("show and change an app's config vars");
  withExamples(
    config,
    'berth config shop',
    'berth config set shop GREETING=hello PORT_MAX=9',
    'berth config unset shop GREETING',
  );

  withExamples(
    config
      .command('get', { isDefault: true })
      .description("show an app's config vars")
      .argument('[app]', 'the app (default: --app or the berth git remote)')
      .option('-a, --app <name>', 'the app')
      .option('--json', 'print JSON')
      .action(async (argument: string | undefined, options: { app?: string; json?: boolean }) => {
        const app = await requireApp(options.app, argument);
        const client = await context.client();
        printConfig(await client.get<ConfigMap>(`${appPath(app)}/config`), options.json === true);
      }),
    'berth config get shop --json',
  );

  withExamples(
    config
      .command('set')
      .description('set config vars (a new release, rolled out, once the app has been deployed)')
      .argument('<args...>', '[APP] KEY=VALUE ...')
      .option('-a, --app <name>', 'the app')
      .option(
        '--allow-runtime-keys',
        'allow LD_PRELOAD, LD_LIBRARY_PATH and NODE_OPTIONS, which change how every process starts',
      )
      .option('--json', 'print the new config as JSON')
      .action(async (args: string[], options: SetOptions) => {
        // A bad key is named before the app is looked for: it is the mistake to fix first.
        for (const item of args) {
          const key = item.slice(0, item.indexOf('='));
          if (item.includes('=') && !KEY.test(key)) throw badKey(key);
        }
        const { app, items } = await appAndItems(options.app, args, (a) => a.includes('='));
        if (items.length === 0) throw new UsageError('config set needs KEY=VALUE pairs');
        const patch: Record<string, string> = {};
        for (const item of items) {
          const at = item.indexOf('=');
          if (at < 0) throw new UsageError(`'${item}' is not KEY=VALUE (e.g. GREETING=hello)`);
          patch[item.slice(0, at)] = item.slice(at + 1);
        }
        const client = await context.client();
        const query = options.allowRuntimeKeys ? '?allowRuntimeKeys=true' : '';
        const reply = await client.request<ConfigMap>('PATCH', `${appPath(app)}/config${query}`, {
          body: patch,
        });
        if (options.json) return printJson(reply.body);
        line(`set ${Object.keys(patch).join(', ')} on ${app}; ${releaseNote(reply.headers)}`);
      }),
    'berth config set shop GREETING=hello',
    "berth config set shop --allow-runtime-keys NODE_OPTIONS='--max-old-space-size=512'",
  );

  withExamples(
    config
      .command('unset')
      .description('remove config vars')
      .argument('<args...>', '[APP] KEY ...')
      .option('-a, --app <name>', 'the app')
      .option('--json', 'print the new config as JSON')
      .action(async (args: string[], options: { app?: string; json?: boolean }) => {
        // With two or more arguments the first is the app; a lone key uses the git remote's.
        const { app, items } = await appAndItems(
          options.app,
          args,
          (_a, _i, all) => all.length < 2,
        );
        if (items.length === 0) throw new UsageError('config unset needs KEYs');
        for (const key of items) if (!KEY.test(key)) throw badKey(key);
        const client = await context.client();
        const reply = await client.request<ConfigMap>('PATCH', `${appPath(app)}/config`, {
          body: Object.fromEntries(items.map((key) => [key, null])),
        });
        if (options.json) return printJson(reply.body);
        line(`unset ${items.join(', ')} on ${app}; ${releaseNote(reply.headers)}`);
      }),
    'berth config unset shop GREETING',
  );
}
