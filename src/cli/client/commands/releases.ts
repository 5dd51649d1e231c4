// `berth releases APP` and `berth rollback APP [vN]`.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { appOfGitRemote, requireApp } from '../app-name.js';
import { CliError, UsageError } from '../errors.js';
import { line, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

/** A release as the API shows it. */
export interface ReleaseRecord {
  readonly version: number;
  readonly description: string;
  readonly artifactId: string | null;
  readonly stack: string | null;
  readonly processes: Record<string, string>;
  readonly formation: Record<string, number>;
  readonly configKeys: string[];
  readonly deploymentId: string | null;
  readonly createdAt: string;
}

const VERSION = /^v?(\d{1,9})$/;

export function registerReleases(program: Command, context: CliContext): void {
  const releases = program
    .command('releases')
    .description("an app's releases, newest first")
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print JSON')
    .action(async (argument: string | undefined, options: { app?: string; json?: boolean }) => {
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      const list = await client.get<ReleaseRecord[]>(`${appPath(app)}/releases`);
      if (options.json) return printJson(list);
      printTable(
        ['VERSION', 'CREATED', 'DESCRIPTION'],
        list.map((r) => [`v${r.version}`, r.createdAt, r.description]),
        `${app} has no releases yet: berth deploy --app ${app}`,
      );
    });
  withExamples(releases, 'berth releases shop', 'berth releases shop --json');

  const rollback = program
    .command('rollback')
    .description("a new release from an earlier one's build (default: the one before the newest)")
    .argument('[args...]', '[APP] [vN]')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print the new release as JSON')
    .action(async (args: string[], options: { app?: string; json?: boolean }) => {
      if (args.length > 2) throw new UsageError('rollback takes [APP] [vN]');
      let app = options.app;
      let versionArgument: string | undefined;
      if (app) {
        if (args.length > 1) throw new UsageError('rollback takes [vN] with --app');
        versionArgument = args[0];
      } else if (args.length === 2) {
        [app, versionArgument] = args;
      } else if (args.length === 1 && VERSION.test(args[0] ?? '') && (await appOfGitRemote())) {
        versionArgument = args[0];
      } else {
        app = args[0];
      }
      app = await requireApp(app);
      const client = await context.client();
      let version: number;
      if (versionArgument !== undefined) {
        const match = VERSION.exec(versionArgument);
        if (!match) throw new UsageError(`'${versionArgument}' is not a release (v3 or 3)`);
        version = Number(match[1]);
      } else {
        const list = await client.get<ReleaseRecord[]>(`${appPath(app)}/releases`);
        const previous = list[1];
        if (!previous) throw new CliError(`${app} has no earlier release to roll back to`);
        version = previous.version;
      }
      const release = await client.post<ReleaseRecord>(`${appPath(app)}/rollback`, { version });
      if (options.json) return printJson(release);
      line(`rolled back ${app} to v${version}: now release v${release.version}`);
    });
  withExamples(rollback, 'berth rollback shop', 'berth rollback shop v3');
}
