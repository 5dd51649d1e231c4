import { mkdir, rm } from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../logging/index.js';
import { CONTROL_SOCKET, removeRouterPidFile, writeRouterPidFile } from '../pid-file.js';
import type { RouteTable, RouterHealth } from '../route-table.js';
import { compileTable, type CompiledTable } from './compiled-table.js';
import { startControlServer } from './control-server.js';
import { loadTableFile, saveTableFile } from './table-file.js';
import { compileTrafficLimits, type TrafficLimitOptions } from './traffic-limits.js';
import { createTrafficServer } from './traffic-server.js';
import { UpstreamPool } from './upstream-pool.js';

/** How the builtin router runs. */
export interface RouterOptions {
  /** Its state: routes.json, router.pid, control.sock (the controller's `<data-dir>/router`). */
  readonly dir: string;
  /** Where apps' traffic arrives; port 0 picks a free port (tests). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly logger: Logger;
  /** An upstream silent this long gets a 504 (ServerOptions.routerUpstreamTimeoutMs). */
  readonly upstreamTimeoutMs: number;
  /** How long a stop waits for requests in flight before cutting them (routerDrainMs). */
  readonly drainMs: number;
  /** Slow clients' timeouts and the per-address connection cap (traffic-limits.ts defaults). */
  readonly limits?: TrafficLimitOptions;
}

/** A builtin router running in this process. */
export interface RunningRouter {
  /** The traffic address, e.g. `http://127.0.0.1:7180`. */
  readonly url: string;
  /** The control socket's path. */
  readonly controlSocket: string;
  /** Stops accepting, lets requests in flight finish (up to the grace), then closes all. */
  close(): Promise<void>;
}

function formatListen(address: AddressInfo): string {
  return address.family === 'IPv6'
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

/**
 * Starts the builtin router: loads the saved table, serves traffic, answers the control socket
 * and writes router.pid. It is meant to run as a process of its own (`berth router`) so that the
 * controller can stop, crash or upgrade without interrupting apps' traffic.
 */
export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { dir } = options;
  const logger = options.logger.child({ component: 'router' });
  const limits = compileTrafficLimits(options.limits ?? {});
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pool = new UpstreamPool();
  let compiled: CompiledTable = compileTable(await loadTableFile(dir, logger), pool);
  const upgraded = new Set<Socket>();
  const startedAt = new Date().toISOString();
  const traffic = createTrafficServer({
    pool,
    logger,
    upstreamTimeoutMs: options.upstreamTimeoutMs,
    current: () => compiled,
    upgraded,
    limits,
  });
  await new Promise<void>((resolve, reject) => {
    traffic.once('error', reject);
    traffic.listen(options.listen.port, options.listen.host, () => {
      traffic.off('error', reject);
      resolve();
    });
  });
  traffic.on('error', (error) => logger.error({ err: error }, 'traffic server error'));
  const address = traffic.address() as AddressInfo;
  const listen = formatListen(address);

  // PUTs are applied one at a time, in arrival order. Each swaps first and answers once the
  // table is on disk too: traffic moves without waiting for the fsyncs, and what a PUT's
  // answer confirms is what a restarted router serves. A table that cannot be saved is
  // swapped back out, so a failed PUT changes nothing that lasts.
  let writing: Promise<unknown> = Promise.resolve();
  const replaceTable = (table: RouteTable): Promise<'replaced' | 'stale'> => {
    const next = writing.then(async () => {
      if (table.generation < compiled.table.generation) return 'stale' as const;
      const previous = compiled.table;
      compiled = compileTable(table, pool);
      try {
        await saveTableFile(dir, table);
      } catch (error) {
        // The previous table's upstreams were retired by the swap: compiled again, they revive.
        compiled = compileTable(previous, pool);
        throw error;
      }
      logger.info(
        { generation: table.generation, routes: table.routes.length },
        'route table swapped',
      );
      return 'replaced' as const;
    });
    writing = next.catch(() => undefined);
    return next;
  };

  const controlSocket = path.join(dir, CONTROL_SOCKET);
  let control: http.Server;
  try {
    control = await startControlServer(
      controlSocket,
      {
        health: (): RouterHealth => ({
          pid: process.pid,
          startedAt,
          generation: compiled.table.generation,
          listen,
        }),
        table: () => compiled.table,
        replaceTable,
        inflight: () => pool.inflight(),
      },
      logger,
    );
  } catch (error) {
    traffic.close();
    pool.destroy();
    throw error;
  }
  await writeRouterPidFile(dir, listen);
  logger.info(
    { listen, controlSocket, generation: compiled.table.generation },
    'berth router listening',
  );

  let closing: Promise<void> | undefined;
  const close = async () => {
    // Stop accepting, answer what is in flight, then close what is left.
    const drained = new Promise<void>((resolve) => traffic.close(() => resolve()));
    // A WebSocket never finishes on its own; its client reconnects (to the next router).
    for (const socket of upgraded) socket.destroy();
    const idleSweeper = setInterval(() => traffic.closeIdleConnections(), 100);
    traffic.closeIdleConnections();
    const graceOver = new AbortController();
    const inTime = await Promise.race([
      drained.then(() => true),
      sleep(options.drainMs, false, { signal: graceOver.signal }),
    ]);
    graceOver.abort();
    clearInterval(idleSweeper);
    if (!inTime) {
      logger.warn({ inflight: pool.inflight() }, 'requests still in flight after the grace period');
    }
    traffic.closeAllConnections();
    const controlClosed = new Promise<void>((resolve) => control.close(() => resolve()));
    control.closeAllConnections();
    await controlClosed;
    await writing;
    pool.destroy();
    await removeRouterPidFile(dir, process.pid);
    await rm(controlSocket, { force: true });
    logger.info('berth router stopped');
  };
  return {
    url: `http://${listen}`,
    controlSocket,
    close: () => (closing ??= close()),
  };
}
