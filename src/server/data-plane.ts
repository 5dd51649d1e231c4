import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataPlaneService, dataPlaneState } from '../domain/data-plane/index.js';
import type { Logger } from '../logging/index.js';
import {
  RouterClient,
  RouterWatch,
  ensureRouterProcess,
  stopRouterProcess,
} from '../router/index.js';
import { connectEngine, EngineUnavailableError, type Engine } from '../engine/index.js';
import {
  ContainerDriver,
  containersRoot,
  detectIsolation,
  ProcessDriver,
  processRuntimeRoot,
  processSandboxes,
  stopAddonServers,
  stopContainerAddons,
  recordedEngine,
  RuntimeDriver,
  type RuntimeProfile,
} from '../runtime/index.js';
import type { Store } from '../store/index.js';
import type { DataPlane } from '../workers/index.js';
import { thisHost } from './host-identity.js';
import type { ServerOptions } from './options.js';
import { openRuntimeProfile } from './runtime-profile.js';

/** The berth command, to start the router as a process of its own. */
const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** The data plane of this machine as the controller holds it: the runtime and the router. */
export interface DataPlaneHandle {
  /** The runtime the options name: its driver, how it builds and runs releases. */
  readonly profile: RuntimeProfile;
  readonly router: DataPlane;
  /** Where apps answer, e.g. http://127.0.0.1:7180. */
  readonly routerUrl: string;
  /** Lets go of the data plane (watchers, handles); the router and units keep running. */
  close(): Promise<void>;
}

/**
 * The port claims of this host for a runtime rooted at `root`, after checking that the store's
 * units live on this host (and recording it, for the first controller). Both runtimes put
 * units on this host, so a controller on another one is refused here, before it starts a
 * router or a unit (DataPlaneElsewhereError says where the units are and what to do).
 */
async function hostPortClaims(options: ServerOptions, logger: Logger, store: Store) {
  const dataPlane = new DataPlaneService({ state: dataPlaneState(store) });
  const host = await thisHost(options.hostId);
  const recorded = await dataPlane.attach(host);
  logger.info(
    { hostId: host.id, host: host.name, since: recorded.recordedAt },
    "this host runs the store's units",
  );
  return (root: string) => dataPlane.unitPorts(host, root);
}

function routerDir(dataDir: string): string {
  return path.join(dataDir, 'router');
}

/**
 * Starts or adopts the data plane of the data dir: the runtime profile the options name (the
 * process runtime's units outlive any controller; containers outlive it too) and the builtin
 * router, a process of its own that this controller watches and restarts if it dies. The
 * store records which host the units live on and the ports they hold there.
 */
export async function startDataPlane(
  options: ServerOptions,
  logger: Logger,
  store: Store,
): Promise<DataPlaneHandle> {
  const portClaims = await hostPortClaims(options, logger, store);
  const profile = await openRuntimeProfile(options, logger, portClaims);
  const dir = routerDir(options.dataDir);
  const listen = options.routerListen;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const command = {
    execPath: process.execPath,
    args: [
      // The controller's own V8 memory settings (bin/berth.js's first line), nothing else of
      // how it was started (a test runner's flags).
      ...process.execArgv.filter((flag) => flag.startsWith('--max-semi-space-size')),
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
    const controlTimeoutMs = options.routerControlTimeoutMs;
    const started = await ensureRouterProcess({ dir, listen, logger, command, controlTimeoutMs });
    const client = new RouterClient({
      controlSocket: path.join(dir, 'control.sock'),
      timeoutMs: controlTimeoutMs,
    });
    const health = await client.health();
    logger.info(
      { pid: started.pid, adopted: started.adopted, listen: health.listen },
      started.adopted ? 'adopted the running router' : 'started the router',
    );
    watch = new RouterWatch({
      dir,
      listen,
      logger,
      command,
      controlTimeoutMs,
      intervalMs: options.routerWatchIntervalMs,
    });
    watch.start();
    const runningWatch = watch;
    return {
      profile,
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
        await profile.close();
      },
    };
  } catch (error) {
    await watch?.stop().catch(() => undefined);
    await profile.close().catch(() => undefined);
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
): Promise<{ units: number; addons: number; router: boolean }> {
  const isolation = await detectIsolation();
  const runtimes = [
    new RuntimeDriver(
      new ProcessDriver({
        root: processRuntimeRoot(dataDir),
        sandboxes: processSandboxes(dataDir, isolation),
      }),
    ),
  ];
  let engineProblem: Error | undefined;
  let engine: Engine | undefined;
  if (existsSync(containersRoot(dataDir))) {
    const recorded = await recordedEngine(containersRoot(dataDir));
    const socket = engineSocket ?? recorded?.socket;
    try {
      ({ engine } = await connectEngine({ socket }));
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
    let addons = await stopAddonServers(dataDir, isolation, graceMs);
    if (engine) addons += await stopContainerAddons(engine, containersRoot(dataDir));
    const router = await stopRouterProcess(routerDir(dataDir), { graceMs });
    if (engineProblem) {
      throw new EngineUnavailableError(
        `stopped ${units} process unit(s) and ${router ? 'the router' : 'no router (none ran)'}, ` +
          `but not the containers: ${engineProblem.message}`,
        { cause: engineProblem },
      );
    }
    return { units, addons, router: Boolean(router) };
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
