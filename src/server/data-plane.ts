import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logging/index.js';
import {
  RouterClient,
  RouterWatch,
  ensureRouterProcess,
  stopRouterProcess,
} from '../router/index.js';
import { connectEngine, EngineUnavailableError, type Engine } from '../engine/index.js';
import {
  AppSandboxes,
  ContainerDriver,
  detectIsolation,
  ProcessDriver,
  recordEngine,
  recordedEngine,
  RuntimeDriver,
} from '../runtime/index.js';
import type { DataPlane } from '../workers/index.js';
import type { ServerOptions } from './options.js';

/** The berth command, to start the router as a process of its own. */
const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** The data plane of this machine as the controller holds it: the runtime and the router. */
export interface DataPlaneHandle {
  readonly runtime: RuntimeDriver;
  /** The container engine, on the container runtime: releases are built into images there. */
  readonly engine: Engine | undefined;
  /** The process runtime's isolation of apps, where it is the runtime: builds run in it too. */
  readonly sandboxes: AppSandboxes | undefined;
  readonly router: DataPlane;
  /** Where apps answer, e.g. http://127.0.0.1:7180. */
  readonly routerUrl: string;
  /** Lets go of the data plane (watchers, handles); the router and units keep running. */
  close(): Promise<void>;
}

function runtimeRoot(dataDir: string): string {
  return path.join(dataDir, 'runtime');
}

function containersRoot(dataDir: string): string {
  return path.join(dataDir, 'containers');
}

/**
 * How the process runtime of a data dir keeps apps apart: as users of their own (with
 * control groups where the machine has them) when the controller is root, else not at all.
 */
async function processSandboxes(dataDir: string): Promise<AppSandboxes> {
  return new AppSandboxes({
    isolation: await detectIsolation(),
    appsRoot: path.join(dataDir, 'apps'),
    scopeKey: runtimeRoot(dataDir),
  });
}

/** The runtime the options name, initialised: the process runtime, or containers on an engine. */
async function openRuntime(
  options: ServerOptions,
  logger: Logger,
): Promise<{
  runtime: RuntimeDriver;
  engine: Engine | undefined;
  sandboxes: AppSandboxes | undefined;
}> {
  if (options.runtime === 'container') {
    const connection = await connectEngine({ socket: options.engineSocket });
    logger.info(
      { socket: connection.socket, engine: connection.product, api: connection.apiVersion },
      'connected to the container engine',
    );
    const runtime = new RuntimeDriver(
      new ContainerDriver({
        engine: connection.engine,
        root: containersRoot(options.dataDir),
        portRange: options.containerPorts,
        readOnlyRootFilesystem: options.containerReadOnly,
      }),
    );
    await runtime.init();
    await recordEngine(containersRoot(options.dataDir), connection);
    return { runtime, engine: connection.engine, sandboxes: undefined };
  }
  const sandboxes = await processSandboxes(options.dataDir);
  const isolation = sandboxes.isolation;
  if (isolation.kind === 'users') {
    logger.info(
      {
        cgroups: isolation.cgroups.kind,
        ...(isolation.cgroups.kind === 'none' ? { reason: isolation.cgroups.reason } : {}),
      },
      isolation.cgroups.kind === 'none'
        ? 'apps run as users of their own; without control groups, memory and CPU limits are not enforced'
        : 'apps run as users of their own, in control groups that enforce their limits',
    );
  } else {
    logger.warn(
      { reason: isolation.reason },
      "single-tenant: apps run as the controller's own user, so this server holds the apps of " +
        'one user only; run it as root, or with --runtime container, to host several users',
    );
  }
  const runtime = new RuntimeDriver(
    new ProcessDriver({
      root: runtimeRoot(options.dataDir),
      portRange: options.unitPorts,
      sandboxes,
    }),
  );
  await runtime.init();
  return { runtime, engine: undefined, sandboxes };
}

function routerDir(dataDir: string): string {
  return path.join(dataDir, 'router');
}

/**
 * Starts or adopts the data plane of the data dir: the process runtime's units (which outlive
 * any controller) and the builtin router, a process of its own that this controller watches
 * and restarts if it dies.
 */
export async function startDataPlane(
  options: ServerOptions,
  logger: Logger,
): Promise<DataPlaneHandle> {
  const { runtime, engine, sandboxes } = await openRuntime(options, logger);
  const dir = routerDir(options.dataDir);
  const listen = options.routerListen;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const command = {
    execPath: process.execPath,
    args: [
      BERTH_BIN,
      'router',
      '--data-dir',
      options.dataDir,
      '--router-listen',
      `${host}:${listen.port}`,
    ],
  };
  let watch: RouterWatch | undefined;
  try {
    const started = await ensureRouterProcess({ dir, listen, logger, command });
    const client = new RouterClient({ controlSocket: path.join(dir, 'control.sock') });
    const health = await client.health();
    logger.info(
      { pid: started.pid, adopted: started.adopted, listen: health.listen },
      started.adopted ? 'adopted the running router' : 'started the router',
    );
    watch = new RouterWatch({ dir, listen, logger, command });
    watch.start();
    const runningWatch = watch;
    return {
      runtime,
      engine,
      sandboxes,
      routerUrl: `http://${health.listen}`,
      router: {
        generation: async () => (await client.health()).generation,
        apply: async (table) => {
          await client.putRoutes(table);
        },
        inflight: () => client.inflight(),
      },
      async close() {
        await runningWatch.stop();
        await runtime.destroy();
      },
    };
  } catch (error) {
    await watch?.stop().catch(() => undefined);
    await runtime.destroy().catch(() => undefined);
    throw error;
  }
}

/**
 * `berth down`: stops the router and every unit of the data dir: the process runtime's, and the
 * container runtime's when the data dir has used one, on the engine named (`--engine-socket`),
 * else the one the data dir remembers (`containers/engine.json`), else the usual sockets. When
 * that engine does not answer, the router and the process units are still stopped, and then
 * the error says which engine it was and what to do.
 */
export async function stopDataPlane(
  dataDir: string,
  graceMs: number,
  engineSocket?: string,
): Promise<{ units: number; router: boolean }> {
  const runtimes = [
    new RuntimeDriver(
      new ProcessDriver({ root: runtimeRoot(dataDir), sandboxes: await processSandboxes(dataDir) }),
    ),
  ];
  let engineProblem: Error | undefined;
  if (existsSync(containersRoot(dataDir))) {
    const recorded = await recordedEngine(containersRoot(dataDir));
    const socket = engineSocket ?? recorded?.socket;
    try {
      const { engine } = await connectEngine({ socket });
      runtimes.push(
        new RuntimeDriver(new ContainerDriver({ engine, root: containersRoot(dataDir) })),
      );
    } catch (error) {
      engineProblem = engineGone(error as Error, engineSocket, recorded?.socket);
    }
  }
  let units = 0;
  try {
    for (const runtime of runtimes) {
      await runtime.init();
      const listed = await runtime.list();
      await Promise.all(listed.map((unit) => runtime.stop(unit.id, { graceMs })));
      units += listed.length;
    }
    const router = await stopRouterProcess(routerDir(dataDir), { graceMs });
    if (engineProblem) {
      throw new EngineUnavailableError(
        `stopped ${units} process unit(s) and ${router ? 'the router' : 'no router (none ran)'}, ` +
          `but not the containers: ${engineProblem.message}`,
        { cause: engineProblem },
      );
    }
    return { units, router: Boolean(router) };
  } finally {
    await Promise.allSettled(runtimes.map((runtime) => runtime.destroy()));
  }
}

/** Why the containers of a data dir cannot be stopped, naming the engine they live on. */
function engineGone(error: Error, named: string | undefined, recorded: string | undefined): Error {
  if (named !== undefined || recorded === undefined) return error;
  return new EngineUnavailableError(
    `the container engine this data dir's units run on (${recorded}, from ` +
      `containers/engine.json) does not answer; start it and run 'berth down' again, or name ` +
      `the engine they moved to with --engine-socket (${error.message})`,
    { cause: error },
  );
}
