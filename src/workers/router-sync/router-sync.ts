import { setTimeout as sleep } from 'node:timers/promises';
import type { WatcherHub } from '../../changes/index.js';
import type { DomainsService } from '../../domain/domains/index.js';
import {
  MAINTENANCE_RETRY_AFTER_SECONDS,
  type MaintenanceService,
} from '../../domain/maintenance/index.js';
import type { RoutesService } from '../../domain/routes/index.js';
import type { LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import type { Route, RouteTable } from '../../router/index.js';
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
  /** Apps' custom hosts, routed beside `<app>.<domain>`; none without it. */
  readonly domains?: Pick<DomainsService, 'list' | 'changes'>;
  /** Apps in maintenance, answered 503 by the router; none without it. */
  readonly maintenance?: Pick<MaintenanceService, 'list' | 'changes'>;
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
      // Domains and maintenance change what the table holds as much as routes do.
      topics: [
        options.routes.changes(),
        ...(options.domains ? [options.domains.changes()] : []),
        ...(options.maintenance ? [options.maintenance.changes()] : []),
      ],
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
    const routes = await this.#table();
    const serving = await this.#options.router.generation();
    // The router may have restarted with a table of another controller: always go past it.
    const generation = Math.max(this.#generation, serving) + 1;
    await this.#options.router.apply({ generation, routes });
    this.#generation = generation;
  }

  /**
   * The routes the router should serve: each routed app at `<app>.<domain>` and its custom
   * hosts, with its maintenance page while it has one. An app in maintenance that has no route
   * (never deployed, or undeployed) gets one without units, so its hosts show the page too.
   */
  async #table(): Promise<Route[]> {
    const [routes, domains, maintenance] = await Promise.all([
      this.#options.routes.list(),
      this.#options.domains?.list() ?? [],
      this.#options.maintenance?.list() ?? [],
    ]);
    const own = (app: string) => `${app}.${this.#options.domain}`.toLowerCase();
    const builtin = new Set(routes.map((r) => own(r.appName)));
    for (const m of maintenance) builtin.add(own(m.appName));
    const custom = new Map<string, string[]>();
    for (const d of domains) {
      // A host the service refused today can be in an older store (the domain flag changed):
      // Berth's own name wins, rather than the table being refused whole.
      if (builtin.has(d.host)) continue;
      const hosts = custom.get(d.appId) ?? [];
      hosts.push(d.host);
      custom.set(d.appId, hosts);
    }
    const paused = new Map(
      maintenance.map((m) => [
        m.appId,
        { message: m.message, retryAfterSeconds: MAINTENANCE_RETRY_AFTER_SECONDS },
      ]),
    );
    const table: Route[] = [];
    const entry = (appId: string, appName: string, target: Route['target']): Route => {
      const page = paused.get(appId);
      paused.delete(appId);
      return {
        app: appName,
        hosts: [own(appName), ...(custom.get(appId) ?? [])],
        target,
        ...(page ? { maintenance: page } : {}),
      };
    };
    for (const route of routes) table.push(entry(route.appId, route.appName, route.target));
    for (const m of maintenance) {
      if (paused.has(m.appId))
        table.push(entry(m.appId, m.appName, { kind: 'units', upstreams: [] }));
    }
    return table;
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
