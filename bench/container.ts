// The container runtime, measured side by side in one run against a real engine: deploy
// latency (POST of a dependency-free Node app's bundle until the new release answers through
// the router) against the floor (the same generated Dockerfile and files built straight
// through the engine, a container started from it and answering), cold and warm:
// - cold: the app's manifest changes each round, so every app layer is built anew;
// - warm: only code changes, so the engine's layer cache serves the dependency steps.
// The engine is BERTH_ENGINE_SOCKET (or DOCKER_HOST, or the usual sockets).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tar from 'tar';
import { generateDockerfile, resolveBaseImages, Stacks } from '../src/build/index.js';
import { connectEngine, type Engine } from '../src/engine/index.js';
import { BerthApiClient } from './berth-api-client.js';
import { startBerthServer } from '../test/support/berth-server.js';
import { bundleOf, freePort, waitForBody } from './deploy-probes.js';
import { percentile, round, tableLines, verdict } from './figures.js';

/** Rounds per kind; the median is reported. */
const ROUNDS = 3;

export interface ContainerFigures {
  readonly coldDeployMs: number;
  readonly coldFloorMs: number;
  readonly warmDeployMs: number;
  readonly warmFloorMs: number;
  /** Steps of the warm redeploys' builds the engine took from its cache, of all their steps. */
  readonly warmCachedSteps: string;
}

/** A dependency-free Node app; `manifest` names the package, so a new one is a cold build. */
function appFiles(manifest: string, marker: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: manifest, scripts: { start: 'node server.js' } }),
    'server.js':
      "const server = require('http').createServer((q, s) => s.end(" +
      `'bench ${marker}'` +
      ')).listen(Number(process.env.PORT));\n' +
      "process.on('SIGTERM', () => server.close(() => process.exit(0)));\n",
  };
}

/** Runs a build stream to its end; rejects with the engine's error. */
function followBuild(engine: Engine, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    engine.modem.followProgress(stream, (error: Error | null, events: { error?: string }[]) => {
      const failed = error?.message ?? events.find((event) => event.error)?.error;
      if (failed) reject(new Error(failed));
      else resolve();
    });
  });
}

/**
 * The floor of one deploy: what any tool must do to run this app from source on the engine.
 * The same Dockerfile Berth generates, built from the same files, a container with PORT
 * published on loopback, and its first answer.
 */
async function floorOnce(
  engine: Engine,
  dir: string,
  files: Record<string, string>,
  marker: string,
  round: number,
): Promise<number> {
  const source = await mkdtemp(path.join(dir, 'floor-'));
  for (const [name, content] of Object.entries(files)) {
    await writeFile(path.join(source, name), content);
  }
  const dockerfile = await generateDockerfile(source, Stacks.node, await resolveBaseImages(engine));
  const port = await freePort();
  const tag = `localhost/berth-bench/floor:${round}`;
  const name = `berth-bench-floor-${process.pid}-${round}`;
  const started = performance.now();
  try {
    await writeFile(path.join(source, 'Dockerfile'), dockerfile ?? '');
    const context = Readable.from(tar.c({ cwd: source, portable: true }, ['.']));
    await followBuild(engine, await engine.buildImage(context, { t: tag, rm: true }));
    const container = await engine.createContainer({
      name,
      Image: tag,
      Entrypoint: ['node', 'server.js'],
      Env: [`PORT=${port}`],
      ExposedPorts: { [`${port}/tcp`]: {} },
      HostConfig: {
        PortBindings: { [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
        Init: true,
      },
    });
    await container.start();
    await waitForBody(`http://127.0.0.1:${port}`, 'localhost', `bench ${marker}`);
    return performance.now() - started;
  } finally {
    await engine
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
    await engine
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    await rm(source, { recursive: true, force: true });
  }
}

/** How long each step of the app's latest deploy took, e.g. `validate 12 · build 310 · …`. */
async function stepTimes(api: BerthApiClient): Promise<string> {
  const tasks = (await api.expect(200, 'GET', '/apps/bench/deployments')) as {
    details: { steps: { name: string; startedAt: string | null; finishedAt: string | null }[] };
  }[];
  return (tasks[0]?.details.steps ?? [])
    .map((step) =>
      step.startedAt && step.finishedAt
        ? `${step.name} ${Date.parse(step.finishedAt) - Date.parse(step.startedAt)}`
        : step.name,
    )
    .join(' · ');
}

/** The build step's "n of m steps from the layer cache" line of the app's latest deploy. */
async function cachedSteps(api: BerthApiClient): Promise<[number, number] | undefined> {
  const tasks = (await api.expect(200, 'GET', '/apps/bench/deployments')) as { id: string }[];
  const latest = tasks[0];
  if (!latest) return undefined;
  const record = JSON.stringify(
    await api.expect(200, 'GET', `/apps/bench/deployments/${latest.id}`),
  );
  const match = /(\d+) of (\d+) steps from the layer cache/.exec(record);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

async function measure(print: (line: string) => void): Promise<ContainerFigures> {
  const socket = process.env['BERTH_ENGINE_SOCKET'];
  const { engine, socket: found, product } = await connectEngine({ socket });
  print(`engine: ${product} at ${found}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-container-'));
  const server = await startBerthServer({
    dataDir: path.join(dir, 'data'),
    env: {
      BERTH_RUNTIME: 'container',
      BERTH_ENGINE_SOCKET: found,
      BERTH_CONTAINER_PORTS: '46000-46999',
    },
  });
  const figures = { cold: [] as number[], coldFloor: [] as number[] };
  const warm = { deploy: [] as number[], floor: [] as number[], cached: [0, 0] };
  try {
    const token = (await readFile(path.join(dir, 'data', 'initial-admin-token'), 'utf8')).trim();
    const api = new BerthApiClient(server.url, token);
    await api.expect(201, 'POST', '/apps', { name: 'bench' });
    const deployOnce = async (files: Record<string, string>, marker: string) => {
      const bundle = await bundleOf(dir, files);
      const started = performance.now();
      await api.expect(202, 'POST', '/deployments/bench', bundle);
      await waitForBody(server.routerUrl, 'bench.localhost', `bench ${marker}`, 300_000);
      const elapsed = performance.now() - started;
      for (;;) {
        const reply = await api.send('GET', '/deployments/bench');
        if (reply.status === 200) break;
        await sleep(20);
      }
      return elapsed;
    };
    // Round 0 of each kind warms both sides (base image in the page cache, the router).
    for (let i = 0; i <= ROUNDS; i++) {
      const manifest = `bench-cold-${process.pid}-${i}-${Date.now()}`;
      const marker = `cold-${i}`;
      const files = appFiles(manifest, marker);
      const floor = await floorOnce(engine, dir, files, marker, i);
      const deploy = await deployOnce(files, marker);
      if (i === 0) continue;
      figures.cold.push(deploy);
      figures.coldFloor.push(floor);
      print(
        `  cold ${i}: deploy ${round(deploy, 0)} ms, floor ${round(floor, 0)} ms ` +
          `(steps, ms: ${await stepTimes(api)})`,
      );
    }
    const manifest = `bench-warm-${process.pid}`;
    for (let i = 0; i <= ROUNDS; i++) {
      const marker = `warm-${i}-${Date.now()}`;
      const files = appFiles(manifest, marker);
      const floor = await floorOnce(engine, dir, files, marker, 100 + i);
      const deploy = await deployOnce(files, marker);
      if (i === 0) continue;
      warm.deploy.push(deploy);
      warm.floor.push(floor);
      const steps = await cachedSteps(api);
      if (steps) warm.cached = [warm.cached[0]! + steps[0], warm.cached[1]! + steps[1]];
      print(
        `  warm ${i}: deploy ${round(deploy, 0)} ms, floor ${round(floor, 0)} ms` +
          (steps ? `, ${steps[0]} of ${steps[1]} build steps cached` : ''),
      );
    }
  } finally {
    await server.down();
    for (const image of await engine.listImages({ filters: { reference: ['berth/bench'] } })) {
      await engine
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      0.5,
    );
  return {
    coldDeployMs: median(figures.cold),
    coldFloorMs: median(figures.coldFloor),
    warmDeployMs: median(warm.deploy),
    warmFloorMs: median(warm.floor),
    warmCachedSteps: `${warm.cached[0]}/${warm.cached[1]}`,
  };
}

export async function runContainerBench(print: (line: string) => void): Promise<ContainerFigures> {
  print(
    `container deploys: POST → the new release answers through the router (median of ${ROUNDS})`,
  );
  const figures = await measure(print);
  const cold = figures.coldDeployMs / figures.coldFloorMs;
  const warm = figures.warmDeployMs / figures.warmFloorMs;
  for (const line of tableLines(
    ['figure', 'measured', 'target', ''],
    [
      ['cold deploy → answers', `${round(figures.coldDeployMs, 0)} ms`, '', ''],
      ['cold floor: build + run + answer', `${round(figures.coldFloorMs, 0)} ms`, '', ''],
      ['cold deploy / floor', `${round(cold, 2)}x`, '<= 1.3x', verdict(cold <= 1.3)],
      ['warm deploy → answers', `${round(figures.warmDeployMs, 0)} ms`, '', ''],
      ['warm floor', `${round(figures.warmFloorMs, 0)} ms`, '', ''],
      ['warm deploy / floor', `${round(warm, 2)}x`, '<= 1.3x', verdict(warm <= 1.3)],
      ['warm build steps from the cache', figures.warmCachedSteps, '', ''],
    ],
  )) {
    print(line);
  }
  return {
    ...figures,
    coldDeployMs: round(figures.coldDeployMs, 1),
    coldFloorMs: round(figures.coldFloorMs, 1),
    warmDeployMs: round(figures.warmDeployMs, 1),
    warmFloorMs: round(figures.warmFloorMs, 1),
  };
}
