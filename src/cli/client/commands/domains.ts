// `berth domains [APP]`, `berth domains add APP HOST`, `berth domains remove APP HOST`: an app's
// custom domains; `berth maintenance on|off [APP] [--message TEXT]`: its maintenance mode.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { requireApp } from '../app-name.js';
import { UsageError } from '../errors.js';
import { line, printFields, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

interface DomainRecord {
  readonly host: string;
  readonly wildcard: boolean;
  readonly createdAt: string;
}

interface MaintenanceRecord {
  readonly enabled: boolean;
  readonly message: string | null;
  readonly startedAt: string | null;
  readonly drained?: boolean;
}

/** `[APP] HOST` (or HOST with --app): the app and the host. */
async function appAndHost(
  args: readonly string[],
  flag: string | undefined,
): Promise<{ app: string; host: string }> {
  const items = flag === undefined ? args : [flag, ...args];
  if (items.length === 2) return { app: items[0] ?? '', host: items[1] ?? '' };
  if (items.length === 1 && flag === undefined) {
    return { app: await requireApp(undefined), host: items[0] ?? '' };
  }
  throw new UsageError('name the app and one host: APP HOST');
}

const domainPath = (app: string, host: string) =>
  `${appPath(app)}/domains/${encodeURIComponent(host)}`;

export function registerDomains(program: Command, context: CliContext): void {
  const domains = program
    .command('domains')
    .description("an app's custom domains (exact hosts or *.example.com): list, add, remove");
  withExamples(
    domains,
    'berth domains shop',
    'berth domains add shop www.shop.example',
    "berth domains add shop '*.shop.example'",
    'berth domains remove shop www.shop.example',
  );

  domains
    .command('list', { isDefault: true })
    .description("the app's custom domains")
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print JSON')
    .action(async (argument: string | undefined, options: { app?: string; json?: boolean }) => {
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      const list = await client.get<DomainRecord[]>(`${appPath(app)}/domains`);
      if (options.json) return printJson(list);
      printTable(
        ['HOST', 'KIND', 'ADDED'],
        list.map((d) => [d.host, d.wildcard ? 'wildcard' : 'exact', d.createdAt]),
        `${app} has no custom domains: berth domains add ${app} HOST`,
      );
    });

  domains
    .command('add')
    .description('give the app a host (point its DNS at the router first: docs/domains.md)')
    .argument('<args...>', '[APP] HOST')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print JSON')
    .action(async (args: string[], options: { app?: string; json?: boolean }) => {
      const { app, host } = await appAndHost(args, options.app);
      const client = await context.client();
      const added = await client.post<DomainRecord>(`${appPath(app)}/domains`, { host });
      if (options.json) return printJson(added);
      line(`${app} answers at ${added.host} once its DNS points at the router`);
    });

  domains
    .command('remove')
    .description('take a host from the app')
    .argument('<args...>', '[APP] HOST')
    .option('-a, --app <name>', 'the app')
    .action(async (args: string[], options: { app?: string }) => {
      const { app, host } = await appAndHost(args, options.app);
      const client = await context.client();
      await client.delete(domainPath(app, host));
      line(`removed ${host} from ${app}`);
    });

  const maintenance = program
    .command('maintenance')
    .description("an app's maintenance mode: its hosts answer 503 with a page of yours");
  withExamples(
    maintenance,
    "berth maintenance on shop --message 'Back at 14:00 UTC'",
    'berth maintenance off shop',
    'berth maintenance shop',
  );

  const show = (app: string, state: MaintenanceRecord, json: boolean | undefined) => {
    if (json) return printJson(state);
    printFields([
      ['App', app],
      ['Maintenance', state.enabled ? 'on' : 'off'],
      ...(state.enabled
        ? ([
            ['Message', state.message ?? '(the default page)'],
            ['Since', state.startedAt],
          ] as const)
        : []),
    ]);
  };

  maintenance
    .command('status', { isDefault: true })
    .description('whether the app is in maintenance')
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print JSON')
    .action(async (argument: string | undefined, options: { app?: string; json?: boolean }) => {
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      show(app, await client.get<MaintenanceRecord>(`${appPath(app)}/maintenance`), options.json);
    });

  maintenance
    .command('on')
    .description('answer every host of the app with a 503 page, once requests in flight end')
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('-m, --message <text>', 'the text of the page')
    .option('--json', 'print JSON')
    .action(
      async (
        argument: string | undefined,
        options: { app?: string; message?: string; json?: boolean },
      ) => {
        const app = await requireApp(options.app, argument);
        const client = await context.client();
        const reply = await client.request<MaintenanceRecord>(
          'PUT',
          `${appPath(app)}/maintenance`,
          {
            body: options.message === undefined ? {} : { message: options.message },
          },
        );
        if (options.json) return printJson(reply.body);
        line(
          reply.body.drained === false
            ? `${app} is in maintenance; some requests were still in flight at the drain timeout`
            : `${app} is in maintenance: its hosts answer 503`,
        );
      },
    );

  maintenance
    .command('off')
    .description("serve the app's routes again")
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .action(async (argument: string | undefined, options: { app?: string }) => {
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      await client.request('DELETE', `${appPath(app)}/maintenance`);
      line(`${app} is serving again`);
    });
}
