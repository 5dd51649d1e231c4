// The process runtime, measured side by side in one run:
// - deploy latency: POST of a dependency-free Node app's bundle until the new release answers
//   through the router, against the floor (extract the same bundle, spawn the app, first
//   response), done directly;
// - the builtin router against direct requests to the app (bench/router.ts).
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tar from 'tar';
import { BerthApiClient } from './berth-api-client.js';
import { bundleOf, freePort, waitForBody } from './deploy-probes.js';
import { startBerthServer } from '../test/support/berth-server.js';
import { compiledBerthEnv } from './compiled-berth.js';
import { percentile, round, tableLines, verdict } from './figures.js';
import { measureRouterVsDirect } from './router.js';
import {
  DEFAULT_RESTART_POLICY,
  ProcessDriver,
  RuntimeDriver,
  type UnitStatus,
} from '../src/runtime/index.js';

/** Deploys measured per run; the median is reported. */
const DEPLOYS = 7;
/**
 * How long after a unit start the driver's next spare supervisor has been started (a while
 * after a spare is taken, SPARE_RESTOCK_MS) and has booted. Both measurements wait this long
 * before their next round, so that no spare boots during a floor, a deploy or a start.
 */
const SPARE_READY_MS = 600;

/** Where one deploy's time went, in ms, from the bench's clock and the task's step times. */
export interface DeployPhases {
  /** POST until its 202: the upload and the bundle's checks at the door. */
  readonly accept: number;
  /** The 202 until the task's validate step starts: the deployer's pickup. */
  readonly pickup: number;
  readonly validate: number;
  readonly build: number;
  readonly release: number;
  /** The rollout step's start until the new release answers through the router. */
  readonly rollout: number;
}

const PHASES = ['accept', 'pickup', 'validate', 'build', 'release', 'rollout'] as const;

interface StepTimes {
  readonly name: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** The phases of a deploy whose record is `body` (GET /deployments/{app}); times in epoch ms. */
function phasesOf(
  body: unknown,
  times: { readonly posted: number; readonly accepted: number; readonly answered: number },
): DeployPhases | undefined {
  const steps = (body as { details?: { steps?: StepTimes[] } }).details?.steps ?? [];
  const at = (name: string, field: 'startedAt' | 'finishedAt') => {
    const value = steps.find((step) => step.name === name)?.[field];
    return value ? Date.parse(value) : Number.NaN;
  };
  const phases: DeployPhases = {
    accept: times.accepted - times.posted,
    pickup: at('validate', 'startedAt') - times.accepted,
    validate: at('validate', 'finishedAt') - at('validate', 'startedAt'),
    build: at('build', 'finishedAt') - at('build', 'startedAt'),
    release: at('release', 'finishedAt') - at('release', 'startedAt'),
    rollout: times.answered - at('rollout', 'startedAt'),
  };
  return Object.values(phases).every(Number.isFinite) ? phases : undefined;
}

function describePhases(phases: DeployPhases): string {
  return PHASES.map((name) => `${name} ${round(phases[name], 0)}`).join(', ');
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export interface RuntimeFigures {
  readonly deployMs: number;
  readonly deployFloorMs: number;
  readonly routerRps: number;
  readonly directRps: number;
  readonly routerP99Ms: number;
  readonly directP99Ms: number;
}

/** A dependency-free Node app whose answer names its marker, so each deploy is a new build. */
export function appFiles(marker: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'bench', scripts: { start: 'node server.js' } }),
    'server.js':
      "require('http').createServer((q, s) => s.end(" +
      `'bench ${marker}'` +
      ')).listen(Number(process.env.PORT));\n',
  };
}

/** The floor of one deploy: extract the bundle, spawn the app, wait for its first response. */
export async function floorOnce(dir: string, bundle: Buffer, marker: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const target = await mkdtemp(path.join(dir, 'floor-'));
  const archive = path.join(target, '..', `${path.basename(target)}.tar.gz`);
  await writeFile(archive, bundle);
  await tar.x({ file: archive, cwd: target });
  const child = spawn(process.execPath, ['server.js'], {
    cwd: target,
    env: { PATH: process.env['PATH'] ?? '', PORT: String(port) },
    stdio: 'ignore',
  });
  try {
    await waitForBody(`http://127.0.0.1:${port}`, 'localhost', `bench ${marker}`);
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
    await rm(target, { recursive: true, force: true });
  }
}

async function measureDeploys(print: (line: string) => void): Promise<{
  deployMs: number;
  deployFloorMs: number;
  deploys: number[];
  floors: number[];
  phases: DeployPhases[];
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-runtime-'));
  // A root controller runs apps as users of their own, who must pass through to the data dir.
  await chmod(dir, 0o711);
  const server = await startBerthServer({
    dataDir: path.join(dir, 'data'),
    // From dist/, as an installed Berth runs (tsx would add its compiler to every deploy).
    env: { BERTH_UNIT_PORTS: '45000-45999', ...compiledBerthEnv() },
  });
  try {
    const token = (await readFile(path.join(dir, 'data', 'initial-admin-token'), 'utf8')).trim();
    const api = new BerthApiClient(server.url, token);
    await api.expect(201, 'POST', '/apps', { name: 'bench' });
    const deploys: number[] = [];
    const floors: number[] = [];
    const phases: DeployPhases[] = [];
    // One deploy first, so both sides start warm (the first unit, the router's agents).
    for (let i = 0; i <= DEPLOYS; i++) {
      const marker = `m${i}-${Date.now()}`;
      const bundle = await bundleOf(dir, appFiles(marker));
      // Side by side: the floor, then the deploy, each round.
      const floor = await floorOnce(dir, bundle, marker);
      const started = performance.now();
      const posted = Date.now();
      await api.expect(202, 'POST', '/deployments/bench', bundle);
      const accepted = Date.now();
      await waitForBody(server.routerUrl, 'bench.localhost', `bench ${marker}`);
      const elapsed = performance.now() - started;
      const answered = Date.now();
      // The next deploy waits for this task to finish (it drains the old unit after the switch).
      let record: unknown;
      for (;;) {
        const reply = await api.send('GET', '/deployments/bench');
        if (reply.status === 200) {
          record = reply.body;
          break;
        }
        await sleep(20);
      }
      await sleep(SPARE_READY_MS);
      if (i === 0) continue;
      deploys.push(elapsed);
      floors.push(floor);
      // The step times are the server's (ms), on the same clock as Date.now() here.
      const split = phasesOf(record, { posted, accepted, answered });
      if (split) phases.push(split);
      print(
        `  deploy ${i}: ${round(elapsed, 0)} ms (floor ${round(floor, 0)} ms)` +
          (split ? `: ${describePhases(split)}` : ''),
      );
    }
    return {
      deployMs: median(deploys),
      deployFloorMs: median(floors),
      deploys,
      floors,
      phases,
    };
  } finally {
    await server.down();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One unit start on the process runtime, start() until the app answers, by a driver that keeps
 * a spare supervisor and by one that boots a supervisor for each start; alternated, so that
 * both see the same machine. The median of each, in ms.
 */
async function measureUnitStarts(): Promise<{ spareMs: number; coldMs: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-starts-'));
  const app = path.join(dir, 'app');
  await mkdir(app);
  await writeFile(path.join(app, 'server.js'), appFiles('start')['server.js'] ?? '');
  const drivers = {
    spare: new RuntimeDriver(
      new ProcessDriver({
        root: path.join(dir, 'spare'),
        portRange: { from: 46_000, to: 46_499 },
        spareSupervisor: true,
      }),
    ),
    cold: new RuntimeDriver(
      new ProcessDriver({ root: path.join(dir, 'cold'), portRange: { from: 46_500, to: 46_999 } }),
    ),
  };
  const times = { spare: [] as number[], cold: [] as number[] };
  try {
    for (const driver of Object.values(drivers)) await driver.init();
    await sleep(300); // the spare boots
    for (let i = 0; i <= DEPLOYS; i++) {
      for (const kind of ['spare', 'cold'] as const) {
        const driver = drivers[kind];
        const started = performance.now();
        const unit: UnitStatus = await driver.start({
          id: `starts-${kind}-${i}`,
          app: 'starts',
          release: 1,
          processType: 'web',
          index: i + 1,
          command: { kind: 'exec', argv: [process.execPath, 'server.js'] },
          artifact: { kind: 'directory', path: app },
          env: {},
          restart: DEFAULT_RESTART_POLICY,
        });
        await waitForBody(`http://127.0.0.1:${unit.address.port}`, 'localhost', 'bench start');
        const elapsed = performance.now() - started;
        await driver.stop(unit.id, { graceMs: 0 });
        if (i > 0) times[kind].push(elapsed);
        await sleep(SPARE_READY_MS); // the next spare is started and boots
      }
    }
  } finally {
    for (const driver of Object.values(drivers)) await driver.destroy().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return { spareMs: median(times.spare), coldMs: median(times.cold) };
}

export async function runRuntimeBench(print: (line: string) => void): Promise<RuntimeFigures> {
  print(`deploy latency: POST → the new release answers through the router (median of ${DEPLOYS})`);
  const deploy = await measureDeploys(print);
  if (deploy.phases.length > 0) {
    const medians = Object.fromEntries(
      PHASES.map((name) => [name, median(deploy.phases.map((p) => p[name]))]),
    ) as unknown as DeployPhases;
    print(`  where it goes (median of each, ms): ${describePhases(medians)}`);
  }
  print(
    `unit start → answers, process runtime, spare supervisor against cold (median of ${DEPLOYS}):`,
  );
  const starts = await measureUnitStarts();
  print(
    `  spare ${round(starts.spareMs, 0)} ms, cold ${round(starts.coldMs, 0)} ms ` +
      `(${round(starts.spareMs / starts.coldMs, 2)}x)`,
  );
  print('router against direct (32 connections, better of two turns each):');
  const router = await measureRouterVsDirect(print);
  const deployRatio = deploy.deployMs / deploy.deployFloorMs;
  const share = router.routerRps / router.directRps;
  for (const line of tableLines(
    ['figure', 'measured', 'target', ''],
    [
      [
        'deploy → answers (median)',
        `${round(deploy.deployMs, 0)} ms`,
        '< 2000 ms',
        verdict(deploy.deployMs < 2000),
      ],
      ['floor: extract + spawn + answer', `${round(deploy.deployFloorMs, 0)} ms`, '', ''],
      ['deploy / floor', `${round(deployRatio, 2)}x`, '<= 2x', verdict(deployRatio <= 2)],
      ['direct requests/s', `${round(router.directRps, 0)}`, '', ''],
      ['router requests/s', `${round(router.routerRps, 0)}`, '', ''],
      ['router / direct', `${round(share * 100, 1)}%`, '>= 45%', verdict(share >= 0.45)],
      [
        'p99 direct / router',
        `${round(router.directP99Ms, 1)} / ${round(router.routerP99Ms, 1)} ms`,
        '',
        '',
      ],
    ],
  )) {
    print(line);
  }
  print(`load generator: ${router.tool}`);
  return {
    deployMs: round(deploy.deployMs, 1),
    deployFloorMs: round(deploy.deployFloorMs, 1),
    routerRps: round(router.routerRps, 0),
    directRps: round(router.directRps, 0),
    routerP99Ms: round(router.routerP99Ms, 2),
    directP99Ms: round(router.directP99Ms, 2),
  };
}
