import type { WatcherHub } from '../../changes/index.js';
import type { App, AppsService } from '../../domain/apps/index.js';
import { isActive, type DeploymentsService } from '../../domain/deployments/index.js';
import type { ReleasesService } from '../../domain/releases/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import { Lifecycle, type LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import type { Driver } from '../../runtime/index.js';
import { RolloutFailure, type ReleaseRunner } from '../rollout/index.js';
import { watchChanges } from '../watch-loop.js';

export interface ReconcilerOptions {
  readonly apps: AppsService;
  readonly deployments: DeploymentsService;
  readonly releases: ReleasesService;
  readonly rollouts: RolloutsService;
  readonly runner: ReleaseRunner;
  readonly runtime: Driver;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /**
   * How often to look at the runtime even when the store did not change: units crash and
   * vanish without telling the store.
   */
  readonly intervalMs?: number;
}

/**
 * Converges every deployed app, driven by watchers on what decides the desired state
 * (formations, live releases, releases, deployment tasks) plus a periodic look at the runtime.
 * Apps with a queued or running task are left to that task. A release newer than the live one
 * that no task rolls out (a config change, a rollback) is rolled out here, once: a failed
 * rollout is recorded and not retried.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #logger: Logger;
  readonly #lifecycle = new Lifecycle('reconciler');
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #again = false;
  /** App id → the reason last warned about, so a lasting fault is not logged every pass. */
  readonly #warned = new Map<string, string>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'reconciler' });
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  start(): void {
    this.#lifecycle.transition('starting');
    const signal = this.#lifecycle.signal;
    this.#loop = watchChanges({
      hub: this.#o.hub,
      namespaces: ['formations', 'live_releases', 'releases', 'deployments', 'apps'],
      signal,
      logger: this.#logger,
      onChange: () => this.poke(),
    });
    this.#timer = setInterval(() => this.poke(), this.#o.intervalMs ?? 2000);
    this.#timer.unref();
    this.#lifecycle.transition('running');
  }

  async stop(): Promise<void> {
    if (this.#lifecycle.state !== 'running') return;
    this.#lifecycle.transition('stopping');
    clearInterval(this.#timer);
    await this.#loop;
    await this.#pass;
    this.#lifecycle.transition('stopped');
  }

  /** Asks for a pass; passes never overlap, and asks during one fold into one more. */
  poke(): void {
    if (this.#lifecycle.state !== 'running') return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    this.#pass = (async () => {
      do {
        this.#again = false;
        try {
          await this.#reconcileAll();
        } catch (error) {
          this.#logger.warn({ err: error }, 'a reconcile pass failed');
        }
      } while (this.#again && this.#lifecycle.state === 'running');
    })().finally(() => (this.#pass = undefined));
  }

  /** One pass now, resolved when done (tests and `berth` commands use it). */
  async reconcileNow(): Promise<void> {
    await this.#pass;
    await this.#reconcileAll();
  }

  async #reconcileAll(): Promise<void> {
    const apps = await this.#o.apps.list();
    const byName = new Map(apps.map((app) => [app.name, app]));
    const live = new Map((await this.#o.rollouts.list()).map((l) => [l.appId, l]));
    for (const app of apps) {
      if (this.#lifecycle.signal.aborted) return;
      const record = live.get(app.id);
      if (!record) continue;
      try {
        await this.#reconcile(app, record.version, record.failedVersion);
        this.#warned.delete(app.id);
      } catch (error) {
        // Every pass would say it again (e.g. a build that is on another controller's
        // machine): warn once per app and reason, then only at debug level.
        const reason = error instanceof Error ? error.message : String(error);
        const level = this.#warned.get(app.id) === reason ? 'debug' : 'warn';
        this.#warned.set(app.id, reason);
        this.#logger[level]({ err: error, app: app.name }, 'could not reconcile the app');
      }
    }
    // Units of apps that were destroyed, or never recorded as deployed and not being deployed.
    const units = await this.#o.runtime.list();
    for (const name of new Set(units.map((u) => u.app))) {
      const app = byName.get(name);
      if (app && (live.has(app.id) || (await this.#busy(app)))) continue;
      this.#logger.info({ app: name }, 'stopping units of an app that is not deployed');
      await this.#o.runner.stopOrphans(name);
    }
  }

  async #busy(app: App): Promise<boolean> {
    const latest = await this.#o.deployments.latest(app.id);
    return latest !== undefined && isActive(latest.status);
  }

  async #reconcile(
    app: App,
    liveVersion: number | null,
    failedVersion: number | null,
  ): Promise<void> {
    if (await this.#busy(app)) return;
    const latest = await this.#o.releases.latest(app.id);
    if (latest && latest.version > (liveVersion ?? 0) && latest.version !== failedVersion) {
      this.#logger.info({ app: app.name, release: latest.version }, 'rolling out a new release');
      try {
        await this.#o.runner.rollOut(app, latest, {
          signal: this.#lifecycle.signal,
          log: (line) => this.#logger.info({ app: app.name }, line),
        });
      } catch (error) {
        if (!(error instanceof RolloutFailure)) throw error;
        this.#logger.warn({ app: app.name, reason: error.message }, 'the rollout failed');
      }
      return;
    }
    await this.#o.runner.converge(app);
  }
}
