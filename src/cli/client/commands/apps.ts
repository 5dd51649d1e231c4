// `berth apps`: create, list, info and destroy (with a typed confirmation).
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { UsageError } from '../errors.js';
import { line, printJson, printTable } from '../output.js';
import { showAppInfo } from './app-info.js';
import { ask, canPrompt } from '../prompt.js';
import { requireApp } from '../app-name.js';
import { withExamples, type CliContext } from '../context.js';

/** An app as the API shows it. */
export interface AppRecord {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly disk?: { readonly images: number; readonly bytes: number };
  /** Which release serves, and the last one that failed to roll out and why. */
  readonly rollout?: {
    readonly liveVersion: number | null;
    readonly failedVersion: number | null;
    readonly failure: string | null;
  };
}

interface Json {
  readonly json?: boolean;
}

export function registerApps(program: Command, context: CliContext): void {
  const apps = program.command('apps').description('create, list, show and destroy apps');
  withExamples(apps, 'berth apps create shop', 'berth apps list --json');

  const list = async (options: Json) => {
    const client = await context.client();
    const all = await client.get<AppRecord[]>('/apps');
    if (options.json) return printJson(all);
    printTable(
      ['NAME', 'CREATED'],
      all.map((a) => [a.name, a.createdAt]),
      'no apps yet: berth apps create NAME',
    );
  };

  withExamples(
    apps
      .command('list', { isDefault: true })
      .description('the apps you may see (admins: all)')
      .option('--json', 'print JSON')
      .action(list),
    'berth apps list',
    'berth apps --json',
  );

  withExamples(
    apps
      .command('create')
      .description('create an app')
      .argument('<name>', 'lowercase letters, digits and dashes; starts with a letter')
      .option('--json', 'print the new app as JSON')
      .action(async (name: string, options: Json) => {
        const client = await context.client();
        const app = await client.post<AppRecord>('/apps', { name });
        if (options.json) return printJson(app);
        line(`created app ${app.name}`);
      }),
    'berth apps create shop',
  );

  withExamples(
    apps
      .command('info')
      .description(
        'show an app: URL, release, formation, last deploy, git remote, a failed rollout',
      )
      .argument('[name]', 'the app (default: --app or the berth git remote)')
      .option('-a, --app <name>', 'the app')
      .option('--json', 'print JSON')
      .action(async (name: string | undefined, options: Json & { app?: string }) => {
        const app = await requireApp(options.app, name);
        await showAppInfo(await context.client(), context.env, app, options.json === true);
      }),
    'berth apps info shop',
  );

  withExamples(
    apps
      .command('destroy')
      .description('destroy an app, its releases and its config (asks you to type its name)')
      .argument('<name>', 'the app')
      .option('--confirm <name>', 'the app name again, to destroy without a question')
      .option('--with-addons', 'also destroy the add-ons attached to it alone (and their data)')
      .action(async (name: string, options: { confirm?: string; withAddons?: boolean }) => {
        let confirmation = options.confirm;
        if (confirmation === undefined) {
          if (!canPrompt()) {
            throw new UsageError(
              `destroying '${name}' needs --confirm ${name} when there is no terminal`,
            );
          }
          confirmation = (
            await ask(`this destroys '${name}' and everything in it; type its name to go on: `)
          ).trim();
        }
        if (confirmation !== name) {
          throw new UsageError(
            `confirmation '${confirmation}' does not match '${name}'; nothing was destroyed`,
          );
        }
        const client = await context.client();
        await client.request('DELETE', appPath(name), {
          ...(options.withAddons ? { query: { withAddons: 'true' } } : {}),
        });
        line(`destroyed app ${name}`);
      }),
    'berth apps destroy shop --confirm shop',
  );
}
