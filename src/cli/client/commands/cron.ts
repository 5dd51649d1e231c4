// `berth cron [APP]`, `berth cron runs APP [ID]`, `berth cron run APP ID`,
// `berth cron suspend|resume APP ID`: an app's scheduled commands and their runs.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { requireApp } from '../app-name.js';
import { line, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

/** A run as the API shows it. */
interface CronRunJson {
  readonly id: string;
  readonly schedule: string;
  readonly slot: string | null;
  readonly trigger: string;
  readonly status: string;
  readonly release: number | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly output: string;
  readonly error: string | null;
}

/** A schedule as the API shows it. */
interface CronScheduleJson {
  readonly id: string;
  readonly command: string;
  readonly schedule: string;
  readonly concurrencyPolicy: string;
  readonly maintenance: boolean;
  readonly suspended: boolean;
  readonly nextRunAt: string | null;
  readonly lastRun: CronRunJson | null;
}

function schedulePath(app: string, id: string): string {
  return `${appPath(app)}/cron/${encodeURIComponent(id)}`;
}

function state(s: CronScheduleJson): string {
  if (s.maintenance) return 'maintenance';
  return s.suspended ? 'suspended' : 'active';
}

function outcome(run: CronRunJson): string {
  if (run.status === 'running') return 'running';
  if (run.exitCode !== null) return `${run.status} (exit ${run.exitCode})`;
  if (run.signal !== null) return `${run.status} (${run.signal})`;
  return run.status;
}

export function registerCron(program: Command, context: CliContext): void {
  const cron = program
    .command('cron')
    .description("an app's scheduled commands (app.json / berth.json cron) and their runs");
  withExamples(
    cron,
    'berth cron shop',
    'berth cron runs shop report',
    'berth cron run shop report',
    'berth cron suspend shop report',
  );

  cron
    .command('list', { isDefault: true })
    .description('the schedules, with their policy, state, next run and last run (UTC)')
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print JSON')
    .action(async (argument: string | undefined, options: { app?: string; json?: boolean }) => {
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      const schedules = await client.get<CronScheduleJson[]>(`${appPath(app)}/cron`);
      if (options.json) return printJson(schedules);
      printTable(
        ['ID', 'SCHEDULE', 'POLICY', 'STATE', 'NEXT RUN', 'LAST RUN', 'COMMAND'],
        schedules.map((s) => [
          s.id,
          s.schedule,
          s.concurrencyPolicy,
          state(s),
          s.nextRunAt ?? '-',
          s.lastRun ? `${s.lastRun.startedAt} ${outcome(s.lastRun)}` : '-',
          s.command,
        ]),
        `${app} has no cron schedules (app.json or berth.json "cron", then deploy)`,
      );
    });

  cron
    .command('runs')
    .description('the runs, newest first, of every schedule or of one')
    .argument('<app>', 'the app')
    .argument('[id]', 'the schedule')
    .option('--limit <n>', 'at most this many runs (1-100)', '20')
    .option('--output', "print each run's output tail")
    .option('--json', 'print JSON')
    .action(
      async (
        app: string,
        id: string | undefined,
        options: { limit: string; output?: boolean; json?: boolean },
      ) => {
        const client = await context.client();
        const runs = await client.get<CronRunJson[]>(`${appPath(app)}/cron/runs`, {
          limit: options.limit,
          ...(id === undefined ? {} : { schedule: id }),
        });
        if (options.json) return printJson(runs);
        if (options.output) {
          for (const run of runs) {
            line(`== ${run.schedule} ${run.startedAt} ${run.trigger} ${outcome(run)}`);
            if (run.error) line(run.error);
            if (run.output) line(run.output.trimEnd());
          }
          return;
        }
        printTable(
          ['SCHEDULE', 'STARTED', 'FINISHED', 'TRIGGER', 'RELEASE', 'OUTCOME', 'ERROR'],
          runs.map((r) => [
            r.schedule,
            r.startedAt,
            r.finishedAt ?? '-',
            r.trigger,
            r.release === null ? '-' : `v${r.release}`,
            outcome(r),
            r.error ?? '',
          ]),
          `no cron runs of ${app}${id === undefined ? '' : ` ${id}`} yet`,
        );
      },
    );

  cron
    .command('run')
    .description('runs a schedule now, as a one-off of the live release, under its policy')
    .argument('<app>', 'the app')
    .argument('<id>', 'the schedule')
    .option('--json', 'print the run as JSON')
    .action(async (app: string, id: string, options: { json?: boolean }) => {
      const client = await context.client();
      const run = await client.post<CronRunJson>(`${schedulePath(app, id)}/runs`, {});
      if (options.json) return printJson(run);
      line(
        run.status === 'skipped'
          ? `${id} not run: ${run.error ?? 'skipped'}`
          : `${id} started (run ${run.id}); see berth cron runs ${app} ${id}`,
      );
    });

  for (const [action, done] of [
    ['suspend', 'suspended: it does not run on its schedule until resumed'],
    ['resume', 'resumed: it runs from its next slot'],
  ] as const) {
    cron
      .command(action)
      .description(
        action === 'suspend'
          ? 'stops a schedule from running on its slots (kept across deploys)'
          : 'lets a suspended schedule run again, from its next slot',
      )
      .argument('<app>', 'the app')
      .argument('<id>', 'the schedule')
      .option('--json', 'print the schedule as JSON')
      .action(async (app: string, id: string, options: { json?: boolean }) => {
        const client = await context.client();
        const schedule = await client.post<CronScheduleJson>(
          `${schedulePath(app, id)}/${action}`,
          {},
        );
        if (options.json) return printJson(schedule);
        line(`${app} ${id} ${done}`);
      });
  }
}
