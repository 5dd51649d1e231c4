import { setTimeout as sleep } from 'node:timers/promises';
import type { WatcherHub } from '../../changes/index.js';
import type { AppRoute, RoutesService } from '../../domain/routes/index.js';
import type { LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import type { RouteTable } from '../../router/index.js';
import { CoalescingWorker } from '../watch-loop.js';

/** What router sync needs of a router: the builtin router's client is one. */
export interface DataPlane {
  /** The generation of the table the router serves. */
  generation(): Promise<number>;
  /** Serves `table` from now on; resolves once it does. */
  apply(table: RouteTable): Promise<void>;
  /** Requests in flight per upstream `host:port`. */
  inflight(): Promise<Readonly<Record<string, number>>>;
}

export interface RouterSyncOptions {
  readonly routes: RoutesService;
  readonly hub: WatcherHub;
  readonly router: DataPlane;
  /** Apps answer at `<app>.<domain>`. */
  readonly domain: string;
  readonly logger: Logger;
  /** How often to check that the router still serves the latest table (ServerOptions). */
  readonly checkIntervalMs: number;
}

const RETRY_DELAY_MS = 500;

/**
 * Keeps the router's table equal to the store's routes: a CoalescingWorker whose run is one
 * sync, so syncs run one at a time and changes and flushes that arrive during one fold into a
 * single next sync. `flush()` lets a rollout wait until the router serves what it just wrote,
 * before it drains the old units.
 */
export class RouterSync {
  readonly #options: RouterSyncOptions;
  readonly #logger: Logger;
  readonly #worker: CoalescingWorker;
  #generation = 0;

  constructor(options: RouterSyncOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'router-sync' });
    this.#worker = new CoalescingWorker({
      name: 'router sync',
      hub: options.hub,
      // An app's destruction takes its route along, so it is a change of the route table too.
      topics: [options.routes.changes()],
      logger: this.#logger,
      intervalMs: options.checkIntervalMs,
      run: () => this.#syncOnce(),
      onInterval: () => this.#check(),
      // A failed push is retried by the periodic check.
      onRunFailure: () => undefined,
    });
  }

  get state(): LifecycleState {
    return this.#worker.state;
  }

  start(): void {
    this.#worker.start();
  }

  async stop(): Promise<void> {
    await this.#worker.stop();
  }

  /**
   * Pushes the store's routes to the router and resolves once the router serves them. Calls
   * made while a sync runs share the next sync, which reads the routes after they were called:
   * however many wait, at most one sync runs and one more is due.
   */
  flush(): Promise<void> {
    return this.#worker.request();
  }

  /** Waits until no request is in flight to any of `addresses` (`host:port`), or the timeout. */
  async waitDrained(addresses: readonly string[], timeoutMs: number): Promise<boolean> {
    if (addresses.length === 0) return true;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const inflight = await this.#options.router.inflight();
      if (addresses.every((address) => (inflight[address] ?? 0) === 0)) return true;
      if (performance.now() > deadline) return false;
      await sleep(50);
    }
  }

  async #syncOnce(): Promise<void> {
    const routes = await this.#options.routes.list();
    const serving = await this.#options.router.generation();
    // The router may have restarted with a table of another controller: always go past it.
    const generation = Math.max(this.#generation, serving) + 1;
    await this.#options.router.apply({
      generation,
      routes: routes.map((route) => this.#toRoute(route)),
    });
    this.#generation = generation;
  }

  #toRoute(route: AppRoute): RouteTable['routes'][number] {
    return {
      app: route.appName,
      hosts: [`${route.appName}.${this.#options.domain}`.toLowerCase()],
      target: route.target,
    };
  }

  /** A router that restarted from an older table, or missed a change, gets the latest again. */
  async #check(): Promise<void> {
    if (this.#worker.state !== 'running' || !this.#worker.idle) return;
    try {
      const serving = await this.#options.router.generation();
      if (serving < this.#generation || this.#generation === 0) await this.flush();
    } catch (error) {
      this.#logger.warn({ err: error }, 'the router did not answer; will retry');
      await sleep(RETRY_DELAY_MS);
    }
  }
}
