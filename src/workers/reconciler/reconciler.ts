import type { WatcherHub } from '../../changes/index.js';
import type { App, AppsService } from '../../domain/apps/index.js';
import { isActive, type DeploymentsService } from '../../domain/deployments/index.js';
import type { FormationService } from '../../domain/formation/index.js';
import type { Release, ReleasesService } from '../../domain/releases/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import { BerthError, ErrorCodes } from '../../errors/index.js';
import type { LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import type { Driver, UnitStatus } from '../../runtime/index.js';
import { RolloutFailure, type ReleaseRunner } from '../rollout/index.js';
import { CoalescingWorker } from '../watch-loop.js';

export interface ReconcilerOptions {
  readonly apps: AppsService;
  readonly deployments: DeploymentsService;
  readonly releases: ReleasesService;
  readonly formation: FormationService;
  readonly rollouts: RolloutsService;
  readonly runner: ReleaseRunner;
  readonly runtime: Driver;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /**
   * How often to look at the runtime even when the store did not change: units crash and
   * vanish without telling the store.
   */
  readonly intervalMs: number;
  /**
   * How often a rollout that failed for another reason than its release (the runtime did not
   * answer) is tried in all, and the wait before the second try (each later wait is four times
   * the one before).
   */
  readonly rolloutRetry: { readonly attempts: number; readonly baseDelayMs: number };
}

/** A rollout that failed for a reason of the moment, to try again after `notBefore`. */
interface RolloutRetry {
  readonly version: number;
  readonly failures: number;
  /** performance.now() */
  readonly notBefore: number;
}

/**
 * Converges every deployed app, driven by watchers on what decides the desired state
 * (formations, live releases, releases, deployment tasks) plus a periodic look at the runtime.
 * Apps with a queued or running task are left to that task. A release newer than the live one
 * that no task rolls out (a config change, a rollback) is rolled out here; a rollout that
 * cannot succeed fails once, recorded, and is not retried.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #logger: Logger;
  readonly #worker: CoalescingWorker;
  /** App id → the reason last warned about, so a lasting fault is not logged every pass. */
  readonly #warned = new Map<string, string>();
  /** App id → the release whose rollout is to be tried again. */
  readonly #retries = new Map<string, RolloutRetry>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'reconciler' });
    this.#worker = new CoalescingWorker({
      name: 'reconciler',
      hub: options.hub,
      topics: [
        options.formation.changes(),
        options.rollouts.changes(),
        options.releases.changes(),
        options.deployments.taskChanges(),
        options.apps.changes(),
      ],
      logger: this.#logger,
      intervalMs: options.intervalMs,
      run: () => this.#reconcileAll(),
      onRunFailure: (error) => this.#logger.warn({ err: error }, 'a reconcile pass failed'),
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

  /** Asks for a pass; passes never overlap, and asks during one fold into one more. */
  poke(): void {
    this.#worker.poke();
  }

  /** A pass that starts now or after the one in progress, resolved when done (tests use it). */
  reconcileNow(): Promise<void> {
    return this.#worker.request();
  }

  async #reconcileAll(): Promise<void> {
    const apps = await this.#o.apps.list();
    // A snapshot only to skip apps that were not deployed when the pass began: one deployed
    // since is seen by the next pass (its live record is a change), and what is acted on is
    // read again, fresh, by #reconcile.
    const deployed = new Set((await this.#o.rollouts.list()).map((l) => l.appId));
    for (const app of apps) {
      if (this.#worker.signal.aborted) return;
      if (!deployed.has(app.id)) continue;
      try {
        await this.#reconcile(app);
        this.#warned.delete(app.id);
      } catch (error) {
        // Destroyed since the pass began: nothing is left to reconcile.
        if (error instanceof BerthError && error.code === ErrorCodes.APP_NOT_FOUND) continue;
        // Every pass would say it again (e.g. a build that is on another controller's
        // machine): warn once per app and reason, then only at debug level.
        const reason = error instanceof Error ? error.message : String(error);
        const level = this.#warned.get(app.id) === reason ? 'debug' : 'warn';
        this.#warned.set(app.id, reason);
        this.#logger[level]({ err: error, app: app.name }, 'could not reconcile the app');
      }
    }
    await this.#stopOrphans();
  }

  /**
   * Stops the units of apps that were destroyed, or undeployed, or never deployed and not
   * being deployed. The runtime is listed before the store is read, and for each app whether
   * a task is active before whether it is deployed: a unit listed belongs to an app recorded
   * before it started, and a task that started it is either still active or has finished, and
   * then its outcome is recorded. So no unit of a deploy in progress, or just done, is taken
   * for an orphan, and only the units listed are stopped.
   */
  async #stopOrphans(): Promise<void> {
    const byApp = new Map<string, UnitStatus[]>();
    for (const unit of await this.#o.runtime.list()) {
      byApp.set(unit.app, [...(byApp.get(unit.app) ?? []), unit]);
    }
    if (byApp.size === 0) return;
    const byName = new Map((await this.#o.apps.list()).map((app) => [app.name, app]));
    for (const [name, units] of byApp) {
      if (this.#worker.signal.aborted) return;
      const app = byName.get(name);
      if (app && ((await this.#busy(app)) || (await this.#o.rollouts.get(app.id)))) continue;
      this.#logger.info({ app: name }, 'stopping units of an app that is not deployed');
      await this.#o.runner.stopOrphans(units);
    }
  }

  async #busy(app: App): Promise<boolean> {
    const latest = await this.#o.deployments.latest(app.id);
    return latest !== undefined && isActive(latest.status);
  }

  /**
   * Rolls out a release newer than the live one that no task rolls out, else converges the
   * app. Read in this order: the latest release, whether a task is active, the live record. A
   * task that made that release is then still active (the app is left to it) or finished, and
   * its outcome (live, or failed) is in the record read after: a release a task rolled out, or
   * saw fail, is not rolled out here again.
   */
  async #reconcile(app: App): Promise<void> {
    const latest = await this.#o.releases.latest(app.id);
    if (await this.#busy(app)) return;
    const live = await this.#o.rollouts.get(app.id);
    if (!live) return;
    if (latest && latest.version > (live.version ?? 0) && latest.version !== live.failedVersion) {
      await this.#rollOut(app, latest);
      return;
    }
    this.#retries.delete(app.id);
    await this.#o.runner.converge(app);
  }

  /**
   * A rollout that fails for the release's sake (RolloutFailure) is recorded by the runner and
   * not tried again. One that fails otherwise (the runtime did not answer) is tried again on
   * later passes after a growing wait, up to the policy's attempts; the last try records its
   * failure, so a release never rolls out on its own long after it was seen to fail.
   */
  async #rollOut(app: App, release: Release): Promise<void> {
    const { attempts, baseDelayMs } = this.#o.rolloutRetry;
    let retry = this.#retries.get(app.id);
    if (retry?.version !== release.version)
      retry = { version: release.version, failures: 0, notBefore: 0 };
    if (performance.now() < retry.notBefore) return;
    const attempt = retry.failures + 1;
    this.#logger.info(
      { app: app.name, release: release.version, attempt },
      'rolling out a new release',
    );
    try {
      await this.#o.runner.rollOut(app, release, {
        signal: this.#worker.signal,
        log: (line) => this.#logger.info({ app: app.name }, line),
        willRetry: attempt < attempts,
      });
      this.#retries.delete(app.id);
    } catch (error) {
      if (this.#worker.signal.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof RolloutFailure || attempt >= attempts) {
        this.#retries.delete(app.id);
        this.#logger.warn(
          { app: app.name, release: release.version, reason },
          'the rollout failed; the release that served before keeps serving',
        );
        return;
      }
      const delayMs = baseDelayMs * 4 ** (attempt - 1);
      this.#retries.set(app.id, {
        version: release.version,
        failures: attempt,
        notBefore: performance.now() + delayMs,
      });
      this.#logger.warn(
        { app: app.name, release: release.version, attempt, attempts, delayMs, err: error },
        'the rollout failed; it is tried again',
      );
    }
  }
}
