import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logging/index.js';
import {
  RouterClient,
  RouterWatch,
  ensureRouterProcess,
  stopRouterProcess,
} from '../router/index.js';
import { ProcessDriver, RuntimeDriver } from '../runtime/index.js';
import type { DataPlane } from '../workers/index.js';
import type { ServerOptions } from './options.js';

/** The berth command, to start the router as a process of its own. */
const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** The data plane of this machine as the controller holds it: the runtime and the router. */
export interface DataPlaneHandle {
  readonly runtime: RuntimeDriver;
  readonly router: DataPlane;
  /** Where apps answer, e.g. http://127.0.0.1:7180. */
  readonly routerUrl: string;
  /** Lets go of the data plane (watchers, handles); the router and units keep running. */
  close(): Promise<void>;
}

function runtimeRoot(dataDir: string): string {
  return path.join(dataDir, 'runtime');
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
  const runtime = new RuntimeDriver(
    new ProcessDriver({ root: runtimeRoot(options.dataDir), portRange: options.unitPorts }),
  );
  await runtime.init();
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

/** `berth down`: stops the router and every unit of the data dir. */
export async function stopDataPlane(
  dataDir: string,
  graceMs: number,
): Promise<{ units: number; router: boolean }> {
  const runtime = new RuntimeDriver(new ProcessDriver({ root: runtimeRoot(dataDir) }));
  await runtime.init();
  try {
    const units = await runtime.list();
    await Promise.all(units.map((unit) => runtime.stop(unit.id, { graceMs })));
    const router = await stopRouterProcess(routerDir(dataDir), { graceMs });
    return { units: units.length, router: Boolean(router) };
  } finally {
    await runtime.destroy();
  }
}
