// The deployment API's figures (issue 4), against `berth server` processes on a private
// PostgreSQL: how fast one and two controllers work off a burst of deploys (validate, build,
// release; no runtime yet), and how long a 10 MB bundle takes from POST to 202 and to done.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeApp, tarGzBundle } from '../test/support/bundles.js';
import { BerthApiClient } from './berth-api-client.js';
import { startBerthServer, type BerthServer } from '../test/support/berth-server.js';
import { percentile, round, tableLines } from './figures.js';
import { incompressibleBundle } from './incompressible-bundle.js';
import { withPostgresServer } from './postgres-databases.js';

/** Apps in a queue run, one small bundle each. */
const QUEUE_APPS = 60;
/** POSTs (and app creations) in flight at once. */
const IN_FLIGHT = 8;
/** Deploys before the timed burst, so it does not pay for cold code paths. */
const WARMUP_DEPLOYS = 4;
const BIG_RANDOM_BYTES = 10 * 1024 * 1024;
const BIG_RANDOM_FILES = 4;
const BIG_RUNS = 3;
/** How often a finished task is looked for. */
const POLL_MS = 20;
/** A generous bound, so a stuck task fails the run instead of hanging it. */
const TASK_TIMEOUT_MS = 60_000;

/** A queue run's figure: tasks finished per second, from the first POST to the last finish. */
export interface QueueFigures {
  readonly tasksPerSec: number;
}

export interface TwoControllerFigures extends QueueFigures {
  /** How many tasks each controller claimed, by controller id. */
  readonly claims: Readonly<Record<string, number>>;
}

/** Medians over the runs. Times are milliseconds. */
export interface BigBundleFigures {
  /** From the POST's start until its 202. */
  readonly postMs: number;
  /** From the POST's start until GET /deployments/{app} answered 200. */
  readonly totalMs: number;
  /** The bundle's size on the wire. */
  readonly bytes: number;
}

/** The benchmark's result, as printed by `--json`. */
export interface DeployApiFigures {
  readonly oneController: QueueFigures;
  readonly twoControllers: TwoControllerFigures;
  readonly bigBundle: BigBundleFigures;
}

/** A finished task as GET /deployments/{app} answers it: the fields the bench reads. */
interface TaskRecord {
  readonly id: string;
  readonly status: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly details: {
    readonly error: string | null;
    readonly steps: readonly {
      readonly name: string;
      readonly startedAt: string | null;
      readonly finishedAt: string | null;
    }[];
  };
}

/** What one queue run saw: its figure and what the printed breakdown needs. */
interface QueueRun {
  readonly tasksPerSec: number;
  readonly elapsedMs: number;
  /** Each POST's time to its 202, ascending. */
  readonly postMs: readonly number[];
  readonly tasks: readonly TaskRecord[];
  readonly claims: Readonly<Record<string, number>>;
}

interface BigBundleRun {
  readonly figures: BigBundleFigures;
  readonly tasks: readonly TaskRecord[];
}

/**
 * Starts `count` controllers on one database, one after the other (the first creates the
 * schema and the admin's token file), runs `work` with a client of each, and stops them all
 * afterwards, also on failure.
 */
async function withControllers<T>(
  databaseUrl: string,
  count: number,
  work: (clients: readonly [BerthApiClient, ...BerthApiClient[]]) => Promise<T>,
): Promise<T> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-deploy-'));
  // A root controller runs apps as users of their own, who must pass through to the data dir.
  chmodSync(root, 0o711);
  // Controllers of one store share its master key: each opens what the others sealed.
  const env = {
    BERTH_DATABASE_URL: databaseUrl,
    BERTH_MASTER_KEY: randomBytes(32).toString('base64'),
  };
  const servers: BerthServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      servers.push(await startBerthServer({ dataDir: path.join(root, `controller-${i}`), env }));
    }
    const tokenFile = path.join(root, 'controller-0', 'initial-admin-token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    const [first, ...others] = servers.map((s) => new BerthApiClient(s.url, token));
    if (!first) throw new Error('no controller was started');
    return await work([first, ...others]);
  } finally {
    await Promise.all(servers.map((s) => s.down()));
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs `work(0…count-1)` with at most `limit` at once; resolves in index order. */
async function inParallel<T>(
  count: number,
  limit: number,
  work: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < count) {
      const index = next++;
      try {
        results[index] = await work(index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return results;
}

/** POSTs the bundle to /deployments/{app}; resolves with the task id once it is queued. */
async function postBundle(client: BerthApiClient, app: string, bundle: Buffer): Promise<string> {
  const queued = (await client.expect(202, 'POST', `/deployments/${app}`, bundle)) as {
    id: string;
  };
  return queued.id;
}

/** Polls GET /deployments/{app} until the task finished; throws unless it succeeded. */
async function waitForTask(client: BerthApiClient, app: string): Promise<TaskRecord> {
  const deadline = performance.now() + TASK_TIMEOUT_MS;
  for (;;) {
    const reply = await client.send('GET', `/deployments/${app}`);
    if (reply.status === 200) {
      const task = reply.body as TaskRecord;
      if (task.status !== 'succeeded')
        throw new Error(`${app}'s task ended ${task.status}: ${task.details.error ?? ''}`);
      return task;
    }
    if (reply.status !== 204)
      throw new Error(`GET /deployments/${app}: ${reply.status} ${JSON.stringify(reply.body)}`);
    if (performance.now() > deadline)
      throw new Error(`${app}'s task did not finish within ${TASK_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** The controller id in the first line of the task's log ("… claimed by controller ID"). */
async function claimerOf(client: BerthApiClient, app: string, taskId: string): Promise<string> {
  const detail = (await client.expect(200, 'GET', `/apps/${app}/deployments/${taskId}`)) as {
    log?: string;
  };
  const firstLine = detail.log?.split('\n', 1)[0] ?? '';
  const controller = /claimed by controller (\S+)/.exec(firstLine)?.[1];
  if (controller === undefined)
    throw new Error(`${app}'s task log does not start with its claim: '${firstLine}'`);
  return controller;
}

/**
 * Creates QUEUE_APPS apps, POSTs a bundle to each with IN_FLIGHT requests at once (alternating
 * between the controllers), and waits until every task finished. The clock runs from the
 * first POST to the last task's finishedAt, which the server stamps (same host, same clock),
 * so how often the bench polls does not change the figure.
 */
async function measureQueue(
  clients: readonly [BerthApiClient, ...BerthApiClient[]],
  bundle: Buffer,
): Promise<QueueRun> {
  const [first] = clients;
  const clientFor = (index: number) => clients[index % clients.length] ?? first;
  await inParallel(WARMUP_DEPLOYS, IN_FLIGHT, async (i) => {
    const app = `warmup-${i}`;
    await clientFor(i).expect(201, 'POST', '/apps', { name: app });
    await postBundle(clientFor(i), app, bundle);
    await waitForTask(first, app);
  });

  const apps = Array.from({ length: QUEUE_APPS }, (_, i) => `queue-${i}`);
  const appAt = (index: number) => apps[index] ?? '';
  await inParallel(apps.length, IN_FLIGHT, (i) =>
    clientFor(i).expect(201, 'POST', '/apps', { name: appAt(i) }),
  );
  const startedAt = Date.now();
  const postMs = await inParallel(apps.length, IN_FLIGHT, async (i) => {
    const at = performance.now();
    await postBundle(clientFor(i), appAt(i), bundle);
    return performance.now() - at;
  });
  // Oldest first: tasks are claimed in the order they were queued, so most polls find theirs done.
  const tasks: TaskRecord[] = [];
  for (const app of apps) tasks.push(await waitForTask(first, app));
  const lastFinishedAt = Math.max(...tasks.map((t) => Date.parse(t.finishedAt ?? '')));
  const elapsedMs = lastFinishedAt - startedAt;

  const claims: Record<string, number> = {};
  for (const [i, task] of tasks.entries()) {
    const controller = await claimerOf(first, appAt(i), task.id);
    claims[controller] = (claims[controller] ?? 0) + 1;
  }
  return {
    tasksPerSec: round(QUEUE_APPS / (elapsedMs / 1_000), 2),
    elapsedMs,
    postMs: postMs.sort((a, b) => a - b),
    tasks,
    claims,
  };
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/**
 * Deploys BIG_RUNS bundles of ~10 MB of random bytes, one at a time, each to a new app and with
 * fresh bytes (so no run reuses another's artifact), timing POST → 202 and POST → 200.
 */
async function measureBigBundle(client: BerthApiClient): Promise<BigBundleRun> {
  const posts: number[] = [];
  const totals: number[] = [];
  const sizes: number[] = [];
  const tasks: TaskRecord[] = [];
  for (let run = 0; run < BIG_RUNS; run++) {
    const bundle = await incompressibleBundle(BIG_RANDOM_BYTES, BIG_RANDOM_FILES);
    const app = `big-${run}`;
    await client.expect(201, 'POST', '/apps', { name: app });
    const started = performance.now();
    await postBundle(client, app, bundle);
    posts.push(performance.now() - started);
    tasks.push(await waitForTask(client, app));
    totals.push(performance.now() - started);
    sizes.push(bundle.length);
  }
  return {
    figures: {
      postMs: round(median(posts), 1),
      totalMs: round(median(totals), 1),
      bytes: median(sizes),
    },
    tasks,
  };
}

/** Milliseconds between two of the server's ISO timestamps. */
function between(from: string | null | undefined, to: string | null | undefined): number {
  return Date.parse(to ?? '') - Date.parse(from ?? '');
}

/**
 * Where the tasks' time went, from the server's own stamps: the wait in the queue (created to
 * first step), each step, and the run (first step started to finished). Medians, ms.
 */
function phaseMedians(tasks: readonly TaskRecord[]): Map<string, number> {
  const samples = new Map<string, number[]>();
  const add = (phase: string, ms: number) => {
    if (Number.isFinite(ms)) samples.set(phase, [...(samples.get(phase) ?? []), ms]);
  };
  for (const task of tasks) {
    const firstStarted = task.details.steps[0]?.startedAt;
    add('queued', between(task.createdAt, firstStarted));
    for (const step of task.details.steps) add(step.name, between(step.startedAt, step.finishedAt));
    add('run', between(firstStarted, task.finishedAt));
  }
  return new Map([...samples].map(([phase, values]) => [phase, median(values)]));
}

function formatTable(
  figures: DeployApiFigures,
  runs: { one: QueueRun; two: QueueRun; big: BigBundleRun },
  smallBytes: number,
): string[] {
  const ms = (n: number) => n.toFixed(0);
  const queueRow = (label: string, run: QueueRun) => [
    label,
    run.tasksPerSec.toFixed(2),
    (run.elapsedMs / 1_000).toFixed(2),
    ms(percentile(run.postMs, 0.5)),
    ms(percentile(run.postMs, 0.99)),
  ];
  const phases = [
    ['1 controller', phaseMedians(runs.one.tasks)],
    ['2 controllers', phaseMedians(runs.two.tasks)],
    ['10 MB bundle', phaseMedians(runs.big.tasks)],
  ] as const;
  const phaseNames = [...new Set(phases.flatMap(([, m]) => [...m.keys()]))];
  const claims = Object.entries(figures.twoControllers.claims)
    .map(([id, n]) => `${id.slice(0, 8)}… ${n}`)
    .join(', ');
  const big = figures.bigBundle;
  return [
    `deploy-api: berth server on PostgreSQL; ${QUEUE_APPS} apps, one ${smallBytes}-byte bundle each, POSTed`,
    `            ${IN_FLIGHT} at a time (alternating between controllers); first POST to last task finished`,
    ...tableLines(
      ['controllers', 'tasks/s', 'elapsed s', 'POST p50 ms', 'POST p99 ms'],
      [queueRow('1', runs.one), queueRow('2', runs.two)],
    ),
    `claims in the 2-controller run: ${claims}`,
    '',
    `10 MB bundle (${big.bytes.toLocaleString('en-US')} bytes of random data, tar.gz), 1 controller, median of ${BIG_RUNS}:`,
    ...tableLines(
      ['measure', 'ms'],
      [
        ['POST start → 202', ms(big.postMs)],
        [`POST start → GET 200 (polled every ${POLL_MS} ms)`, ms(big.totalMs)],
      ],
    ),
    '',
    "where a task's time went (medians of the server's step stamps, ms; queued: created → first step):",
    ...tableLines(
      ['run', ...phaseNames],
      phases.map(([label, medians]) => [
        label,
        ...phaseNames.map((p) => {
          const value = medians.get(p);
          return value === undefined ? '' : ms(value);
        }),
      ]),
    ),
  ];
}

/**
 * Measures queue throughput on one controller (then a 10 MB bundle's POST → 202 → 200 on the
 * same controller) and on two, each on a fresh database, printing progress to stderr and the
 * tables through `print`. Servers, databases and the private cluster are removed afterwards,
 * also on failure.
 */
export async function runDeployApiBench(print: (line: string) => void): Promise<DeployApiFigures> {
  const small = await tarGzBundle(nodeApp);
  const runs = await withPostgresServer(async (postgres) => {
    process.stderr.write('deploy-api: 1 controller: queue…\n');
    const { one, big } = await postgres.withDatabase((url) =>
      withControllers(url, 1, async ([client]) => {
        const one = await measureQueue([client], small);
        process.stderr.write('deploy-api: 1 controller: 10 MB bundles…\n');
        return { one, big: await measureBigBundle(client) };
      }),
    );
    process.stderr.write('deploy-api: 2 controllers: queue…\n');
    const two = await postgres.withDatabase((url) =>
      withControllers(url, 2, (clients) => measureQueue(clients, small)),
    );
    return { one, two, big };
  });
  const figures: DeployApiFigures = {
    oneController: { tasksPerSec: runs.one.tasksPerSec },
    twoControllers: { tasksPerSec: runs.two.tasksPerSec, claims: runs.two.claims },
    bigBundle: runs.big.figures,
  };
  for (const line of formatTable(figures, runs, small.length)) print(line);
  return figures;
}
