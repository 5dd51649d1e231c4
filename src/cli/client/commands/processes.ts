// `berth scale APP web=3 worker=1` and `berth ps APP`: the formation and the units.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { appAndItems, requireApp } from '../app-name.js';
import { UsageError } from '../errors.js';
import { line, printJson, printTable } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

type Formation = Record<string, { count: number; memory: string | null; cpu: number | null }>;

/** A unit as GET /apps/{app}/processes shows it. */
export interface ProcessRecord {
  readonly type: string;
  readonly index: number;
  readonly state: string;
  readonly release: number;
  readonly startedAt: string;
  readonly restarts: number;
  readonly unit: string;
  readonly address: string;
}

/** What GET /apps/{app} says of the app's rollouts. */
interface RolloutRecord {
  readonly liveVersion: number | null;
  readonly failedVersion: number | null;
  readonly failure: string | null;
}

/**
 * A line on the last rollout when it failed after the release that serves (a release the
 * runtime refused, say): the units listed are then of the release before it.
 */
function failedRollout(rollout: RolloutRecord | undefined): string | undefined {
  if (!rollout?.failure || rollout.failedVersion === null) return undefined;
  if (rollout.failedVersion < (rollout.liveVersion ?? 0)) return undefined;
  const serving =
    rollout.liveVersion === null ? 'no release serves' : `v${rollout.liveVersion} serves`;
  return `rollout of v${rollout.failedVersion} failed (${serving}): ${rollout.failure}`;
}

const PROCESS_TYPE = /^[a-z][a-z0-9-]{0,29}$/;

/** The server's limit (MAX_UNITS_PER_TYPE): more units of one type is a typo. */
const MAX_COUNT = 100;

/**
 * `web=3` or `web=2:256M` → the formation patch entry, or a usage error naming the rule the
 * item breaks. The memory size is the server's to check: it knows every unit it accepts.
 */
function parseScaleItem(item: string): [string, number | { count: number; memory: string }] {
  const at = item.indexOf('=');
  if (at < 0) throw new UsageError(`'${item}' is not TYPE=COUNT (e.g. web=3 or web=2:256M)`);
  const type = item.slice(0, at);
  const [count = '', memory] = item.slice(at + 1).split(/:(.*)/s);
  if (!PROCESS_TYPE.test(type)) {
    throw new UsageError(
      `'${type}' is not a process type: lowercase letters, digits and '-', starting with a letter, at most 30`,
    );
  }
  if (!/^\d{1,9}$/.test(count) || Number(count) > MAX_COUNT) {
    throw new UsageError(
      `'${item}': the count of ${type} must be a whole number from 0 to ${MAX_COUNT}, got '${count}'`,
    );
  }
  if (memory === undefined) return [type, Number(count)];
  if (memory === '') throw new UsageError(`'${item}': no memory size after ':' (e.g. web=2:256M)`);
  return [type, { count: Number(count), memory }];
}

function printFormation(formation: Formation, json: boolean): void {
  if (json) return printJson(formation);
  printTable(
    ['TYPE', 'COUNT', 'MEMORY', 'CPU'],
    Object.entries(formation).map(([type, f]) => [type, f.count, f.memory, f.cpu]),
    'no process types (deploy first)',
  );
}

export function registerProcesses(program: Command, context: CliContext): void {
  const scale = program
    .command('scale')
    .description('set how many units of each process type run (TYPE=N, or TYPE=N:MEMORY)')
    .argument('[args...]', '[APP] TYPE=COUNT ...; with none, shows the formation')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print the formation as JSON')
    .action(async (args: string[], options: { app?: string; json?: boolean }) => {
      // A bad item is named before the app is looked for: it is the mistake to fix first.
      for (const item of args) if (item.includes('=')) parseScaleItem(item);
      const { app, items } = await appAndItems(options.app, args, (a) => a.includes('='));
      const client = await context.client();
      if (items.length === 0) {
        printFormation(
          await client.get<Formation>(`${appPath(app)}/formation`),
          options.json === true,
        );
        return;
      }
      const patch: Record<string, number | { count: number; memory: string }> = {};
      for (const item of items) {
        const [type, entry] = parseScaleItem(item);
        patch[type] = entry;
      }
      printFormation(
        await client.patch<Formation>(`${appPath(app)}/formation`, patch),
        options.json === true,
      );
    });
  withExamples(
    scale,
    'berth scale shop web=3 worker=1',
    'berth scale shop web=2:256M',
    'berth scale shop',
  );

  const ps = program
    .command('ps')
    .description("an app's units and their state")
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('--json', 'print JSON')
    .action(async (argument: string | undefined, options: { app?: string; json?: boolean }) => {
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      const [units, shown] = await Promise.all([
        client.get<ProcessRecord[]>(`${appPath(app)}/processes`),
        client.get<{ rollout?: RolloutRecord }>(appPath(app)),
      ]);
      if (options.json) return printJson(units);
      printTable(
        ['UNIT', 'STATE', 'RELEASE', 'STARTED', 'RESTARTS'],
        units.map((u) => [
          `${u.type}.${u.index}`,
          u.state,
          `v${u.release}`,
          u.startedAt,
          u.restarts,
        ]),
        `no units of ${app} are running`,
      );
      const failed = failedRollout(shown.rollout);
      if (failed) line(failed);
    });
  withExamples(ps, 'berth ps shop', 'berth ps shop --json');
}
