import { setTimeout as sleep } from 'node:timers/promises';
import type { WatcherHub } from '../../changes/index.js';
import type { AppRoute, RoutesService } from '../../domain/routes/index.js';
import { Lifecycle, type LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import type { RouteTable } from '../../router/index.js';
import { watchChanges } from '../watch-loop.js';

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
  /** How often to check that the router still serves the latest table. */
  readonly checkIntervalMs?: number;
}

const RETRY_DELAY_MS = 500;

/**
 * Keeps the router's table equal to the store's routes. Syncs run one at a time; changes and
 * flushes that arrive during one fold into a single next sync. `flush()` lets a rollout wait until the
 * router serves what it just wrote, before it drains the old units.
 */
export class RouterSync {
  readonly #options: RouterSyncOptions;
  readonly #logger: Logger;
  readonly #lifecycle = new Lifecycle('router sync');
  #generation = 0;
  /** The sync that runs now. */
  #running: Promise<void> | undefined;
  /** The sync that runs next, shared by every flush() called while one runs. */
  #next: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RouterSyncOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'router-sync' });
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  start(): void {
    this.#lifecycle.transition('starting');
    const signal = this.#lifecycle.signal;
    this.#loop = watchChanges({
      hub: this.#options.hub,
      namespaces: ['routes', 'apps'],
      signal,
      logger: this.#logger,
      // A failed push is retried by the periodic check.
      onChange: () => void this.flush().catch(() => undefined),
    });
    this.#timer = setInterval(() => void this.#check(), this.#options.checkIntervalMs ?? 3000);
    this.#timer.unref();
    this.#lifecycle.transition('running');
  }

  async stop(): Promise<void> {
    if (this.#lifecycle.state !== 'running') return;
    this.#lifecycle.transition('stopping');
    clearInterval(this.#timer);
    await this.#loop;
    await this.#next?.catch(() => undefined);
    await this.#running?.catch(() => undefined);
    this.#lifecycle.transition('stopped');
  }

  /**
   * Pushes the store's routes to the router and resolves once the router serves them. Calls
   * made while a sync runs share the next sync, which reads the routes after they were called:
   * however many wait, at most one sync runs and one more is due.
   */
  flush(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#startSync();
    // The sync that runs may have read the routes before the caller's change: wait for the
    // next, whatever became of this one.
    const next = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.#startSync();
      });
    this.#next = next;
    return next;
  }

  #startSync(): Promise<void> {
    const run = this.#syncOnce().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
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
    if (this.#lifecycle.state !== 'running' || this.#running) return;
    try {
      const serving = await this.#options.router.generation();
      if (serving < this.#generation || this.#generation === 0) await this.flush();
    } catch (error) {
      this.#logger.warn({ err: error }, 'the router did not answer; will retry');
      await sleep(RETRY_DELAY_MS);
    }
  }
}
