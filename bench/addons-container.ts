// The container runtime's half of `npm run bench -- addons`: `addons create` until the server
// accepts connections, side by side with its floor in the same run: on the same engine, a
// volume and a container of the same image with the same entrypoint, environment, limits and
// port publishing, started and asked as often as Berth asks until it accepts the same kind of
// credentials on a database of the add-on's name. The engine is BERTH_ENGINE_SOCKET (or
// DOCKER_HOST, or the usual sockets).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADDON_IMAGE_LAYOUT } from '../src/build/stacks/index.js';
import { connectEngine, imageExists, type Engine } from '../src/engine/index.js';
import { postgresAccepts, redisAccepts, scramVerifier } from '../src/runtime/addon-clients.js';
import {
  ADDON_ENTRYPOINTS,
  DEFAULT_ADDON_IMAGES,
  DEFAULT_ADDON_MEMORY_BYTES,
  READY_POLL_MS,
} from '../src/runtime/container/addon-servers.js';
import { startBerthServer } from '../test/support/berth-server.js';
import { BerthApiClient } from './berth-api-client.js';
import { freePort } from './deploy-probes.js';
import { round } from './figures.js';

type Kind = 'postgres' | 'redis';

export interface AddonFigure {
  readonly berthMs: number;
  readonly floorMs: number;
  readonly ratio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

async function firstImage(engine: Engine, kind: Kind): Promise<string | undefined> {
  for (const image of DEFAULT_ADDON_IMAGES[kind]) {
    if (await imageExists(engine, image)) return image;
  }
  return undefined;
}

/** One server made directly on the engine, as Berth makes it; its time to accepting. */
async function floorOnce(engine: Engine, kind: Kind, image: string, round: number) {
  const name = `berth-bench-floor-${kind}-${process.pid}-${round}`;
  const layout = ADDON_IMAGE_LAYOUT[kind];
  const credentials = {
    user: 'bench_floor',
    password: randomBytes(24).toString('hex'),
    database: 'bench_floor',
  };
  const port = await freePort();
  const env =
    kind === 'postgres'
      ? [
          `PGDATA=${layout.dataDir}`,
          `BERTH_USER=${credentials.user}`,
          `BERTH_DATABASE=${credentials.database}`,
          `BERTH_PASSWORD_VERIFIER=${scramVerifier(credentials.password)}`,
        ]
      : [`BERTH_PASSWORD=${credentials.password}`];
  const address = { host: '127.0.0.1', port };
  const started = performance.now();
  await engine.createVolume({ Name: name });
  await engine.createNetwork({ Name: name, Options: { isolate: 'true' } });
  try {
    const container = await engine.createContainer({
      name,
      Image: image,
      User: layout.user,
      Entrypoint: ['/bin/sh', '-c', ADDON_ENTRYPOINTS[kind]],
      Cmd: [],
      Env: env,
      ExposedPorts: { [`${layout.port}/tcp`]: {} },
      HostConfig: {
        NetworkMode: name,
        Init: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Memory: DEFAULT_ADDON_MEMORY_BYTES[kind],
        MemorySwap: DEFAULT_ADDON_MEMORY_BYTES[kind],
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m' },
        Mounts: [{ Type: 'volume', Source: name, Target: layout.dataDir }],
        PortBindings: { [`${layout.port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
      },
    });
    await container.start();
    for (let tries = 1; ; tries++) {
      const ready =
        kind === 'redis'
          ? await redisAccepts(address, credentials.password)
          : await postgresAccepts(address, credentials, false).catch(() => false);
      if (ready) break;
      if (tries % 40 === 0 && !(await container.inspect()).State.Running) {
        const logs = await container.logs({ stdout: true, stderr: true });
        throw new Error(`the floor's ${kind} server exited: ${logs.toString().slice(-500)}`);
      }
      await sleep(READY_POLL_MS);
    }
    return performance.now() - started;
  } finally {
    await engine
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
    await engine
      .getVolume(name)
      .remove()
      .catch(() => undefined);
    await engine
      .getNetwork(name)
      .remove()
      .catch(() => undefined);
  }
}

/**
 * Each kind whose image the engine has, Berth against its floor, median of `rounds` (a first
 * round of each, not counted, warms both). Undefined when no engine answers.
 */
export async function measureContainerAddons(
  rounds: number,
  print: (line: string) => void,
): Promise<Partial<Record<Kind, AddonFigure>> | undefined> {
  let engine: Engine;
  let socket: string;
  try {
    ({ engine, socket } = await connectEngine({ socket: process.env['BERTH_ENGINE_SOCKET'] }));
  } catch (error) {
    print(`  container runtime: skipped (${(error as Error).message.split('\n')[0] ?? ''})`);
    return undefined;
  }
  const images: Partial<Record<Kind, string>> = {};
  for (const kind of ['postgres', 'redis'] as const) {
    const image = await firstImage(engine, kind);
    if (image) images[kind] = image;
    else print(`  container runtime: no ${kind} image (berth stacks build --only ${kind})`);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-addons-container-'));
  const server = await startBerthServer({
    dataDir: path.join(dir, 'data'),
    env: {
      BERTH_RUNTIME: 'container',
      BERTH_ENGINE_SOCKET: socket,
      BERTH_CONTAINER_PORTS: '47000-47999',
    },
  });
  const figures: Partial<Record<Kind, AddonFigure>> = {};
  try {
    const token = (await readFile(path.join(dir, 'data', 'initial-admin-token'), 'utf8')).trim();
    const api = new BerthApiClient(server.url, token);
    for (const [kind, image] of Object.entries(images) as [Kind, string][]) {
      const berth: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i <= rounds; i++) {
        const floorMs = await floorOnce(engine, kind, image, i);
        const name = `bench-${kind}-${i}`;
        const started = performance.now();
        await api.expect(201, 'POST', '/addons', { kind, name });
        const berthMs = performance.now() - started;
        await api.expect(204, 'DELETE', `/addons/${name}?confirm=${name}`);
        if (i === 0) continue;
        floor.push(floorMs);
        berth.push(berthMs);
      }
      const berthMs = median(berth);
      const floorMs = median(floor);
      figures[kind] = {
        berthMs: round(berthMs, 1),
        floorMs: round(floorMs, 1),
        ratio: round(berthMs / floorMs, 2),
      };
    }
  } finally {
    await server.down();
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
