import type { WatcherHub, ChangeTopic } from '../../changes/index.js';
import {
  CronRunStatuses,
  CronTriggers,
  type CronRun,
  type CronSchedule,
  type CronScheduleSpec,
  type CronService,
} from '../../domain/cron/index.js';
import type { LiveRelease } from '../../domain/rollouts/index.js';
import { ErrorCodes, UnavailableError } from '../../errors/index.js';
import type { LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import type { OneOffResult } from '../../runtime/index.js';
import { CoalescingWorker } from '../watch-loop.js';

/** How a cron run's command is run: a one-off of the app's live release, with its env. */
export interface CronExecutor {
  run(
    appId: string,
    command: string,
    signal: AbortSignal,
  ): Promise<OneOffResult & { readonly release: number }>;
}

/** Where schedules come from: the live releases and their manifests. */
export interface CronSources {
  /** Changes to which release serves an app. */
  readonly changes: ChangeTopic;
  /** Every deployed app's live record. */
  live(): Promise<readonly LiveRelease[]>;
  /** The cron entries of a release's manifests; undefined when its build cannot be read. */
  entriesOf(appId: string, version: number): Promise<readonly CronScheduleSpec[] | undefined>;
}

/** The cron worker's options, compiled by the server (CronWorkerOptions in server options). */
export interface CronWorkerOptions {
  readonly cron: CronService;
  readonly sources: CronSources;
  readonly executor: CronExecutor;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /** How often it looks whether a slot has come and renews its runs' leases. */
  readonly checkIntervalMs: number;
  /** A run's lease: renewed every third of it; a run of a controller that died fails after it. */
  readonly leaseMs: number;
  /** A run is killed after this long. */
  readonly runTimeoutMs: number;
  /** The time (a test's clock); the CronService it is given must share it. */
  readonly clock?: () => Date;
}

/** A run this controller executes. */
interface LocalRun {
  readonly run: CronRun;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/**
 * Runs apps' cron schedules: a CoalescingWorker woken by changes to schedules, runs and live
 * releases, and by an interval that asks for a pass only once the earliest slot has come. A
 * pass (1) makes each app's schedules those of its live release, (2) stops its runs that a
 * `replace` asked to stop, (3) fails runs whose controller died (lapsed lease), and (4) claims
 * each due slot: a slot runs once, whichever controller claims it first. Runs go on outside the
 * pass, as one-offs of the live release.
 */
export class CronWorker {
  readonly #o: CronWorkerOptions;
  readonly #worker: CoalescingWorker;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  readonly #local = new Map<string, LocalRun>();
  /** The release each app's schedules were last synced from, by this controller. */
  readonly #synced = new Map<string, number>();
  #nextDue: Date | undefined;
  #dirty = true;
  #renewedAt = 0;

  constructor(options: CronWorkerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#logger = options.logger.child({ component: 'cron' });
    this.#worker = new CoalescingWorker({
      name: 'cron',
      hub: options.hub,
      topics: [options.cron.changes(), options.cron.runChanges(), options.sources.changes],
      logger: this.#logger,
      intervalMs: options.checkIntervalMs,
      run: () => this.#pass(),
      onInterval: () => this.#onInterval(),
      onRunFailure: (error) => {
        this.#dirty = true;
        this.#logger.error({ err: error }, 'a cron pass failed; it runs again');
      },
    });
  }

  get state(): LifecycleState {
    return this.#worker.state;
  }

  /** The runs this controller has going. */
  get running(): number {
    return this.#local.size;
  }

  start(): void {
    this.#worker.start();
  }

  /** One pass now (tests, and a clock that jumped); resolves when it ends. */
  tick(): Promise<void> {
    return this.#worker.request();
  }

  /**
   * Runs a schedule now (`berth cron run`), under its concurrency policy, on this controller;
   * returns the run as recorded (running, or skipped under forbid).
   */
  async runNow(schedule: CronSchedule): Promise<CronRun> {
    if (this.#worker.state !== 'running') {
      throw new UnavailableError('the controller is stopping', {}, ErrorCodes.RUNTIME_UNAVAILABLE);
    }
    const claim = await this.#o.cron.claim(schedule, {
      trigger: CronTriggers.manual,
      leaseMs: this.#o.leaseMs,
    });
    if (claim.kind === 'taken') throw new Error('a run by hand has no slot to be taken');
    if (claim.kind === 'skipped') return claim.run;
    this.#execute(claim.run, claim.replaced);
    return claim.run;
  }

  /** Stops looking; runs going on are stopped (recorded as failed) and waited for. */
  async stop(): Promise<void> {
    await this.#worker.stop(async () => {
      for (const local of this.#local.values()) local.abort.abort('controller stopping');
      await Promise.all([...this.#local.values()].map((local) => local.done));
    });
  }

  async #onInterval(): Promise<void> {
    const now = this.#clock().getTime();
    if (this.#local.size > 0 && now - this.#renewedAt >= this.#o.leaseMs / 3) {
      this.#renewedAt = now;
      await this.#o.cron.renewLeases([...this.#local.keys()], this.#o.leaseMs);
    }
    if (this.#dirty || (this.#nextDue !== undefined && this.#nextDue.getTime() <= now)) {
      await this.#worker.request();
    } else if (now - this.#renewedAt >= this.#o.leaseMs) {
      // Now and then, for runs of controllers that died (nothing in the store changes then).
      this.#renewedAt = now;
      await this.#worker.request();
    }
  }

  async #pass(): Promise<void> {
    this.#dirty = false;
    await this.#syncSchedules();
    for (const id of await this.#o.cron.stopRequested([...this.#local.keys()])) {
      this.#local.get(id)?.abort.abort('replaced');
    }
    const abandoned = await this.#o.cron.failAbandoned();
    if (abandoned > 0) this.#logger.warn({ abandoned }, 'failed cron runs whose controller died');
    const { due, next } = await this.#o.cron.due();
    this.#nextDue = next;
    for (const slot of due) {
      const claim = await this.#o.cron.claim(slot.schedule, {
        slot: slot.slot,
        trigger: slot.trigger,
        leaseMs: this.#o.leaseMs,
      });
      if (claim.kind === 'taken') continue;
      if (claim.kind === 'skipped') {
        this.#logger.info(
          { app: slot.schedule.appId, schedule: slot.schedule.id, slot: slot.slot },
          'cron slot skipped: a run is still going (forbid)',
        );
        continue;
      }
      this.#execute(claim.run, claim.replaced);
    }
    // A slot that came during the pass is due at once.
    if (this.#nextDue !== undefined && this.#nextDue <= this.#clock()) this.#dirty = true;
  }

  /**
   * Each deployed app's schedules become its live release's (once per release here); an app
   * that is no longer deployed (undeployed, destroyed) loses its schedules.
   */
  async #syncSchedules(): Promise<void> {
    const deployed = await this.#o.sources.live();
    const liveApps = new Set(deployed.map((live) => live.appId));
    const scheduled = new Set((await this.#o.cron.schedules()).map((s) => s.appId));
    for (const appId of scheduled) {
      if (liveApps.has(appId)) continue;
      await this.#o.cron.removeSchedules(appId);
      this.#synced.delete(appId);
    }
    for (const live of deployed) {
      if (live.version === null || this.#synced.get(live.appId) === live.version) continue;
      const entries = await this.#o.sources.entriesOf(live.appId, live.version);
      if (entries === undefined) continue;
      await this.#o.cron.replaceSchedules(live.appId, live.version, entries);
      this.#synced.set(live.appId, live.version);
    }
  }

  #execute(run: CronRun, replaced: readonly string[]): void {
    for (const id of replaced) this.#local.get(id)?.abort.abort('replaced');
    const abort = new AbortController();
    const done = this.#runToEnd(run, abort.signal).finally(() => this.#local.delete(run.id));
    this.#local.set(run.id, { run, abort, done });
  }

  async #runToEnd(run: CronRun, signal: AbortSignal): Promise<void> {
    const log = this.#logger.child({ app: run.appId, schedule: run.scheduleId, run: run.id });
    log.info({ trigger: run.trigger, slot: run.slot }, 'cron run started');
    const timeout = AbortSignal.timeout(this.#o.runTimeoutMs);
    try {
      const result = await this.#o.executor.run(
        run.appId,
        run.command,
        AbortSignal.any([signal, timeout]),
      );
      const stopped = signal.aborted;
      await this.#o.cron.finish(run, {
        status: stopped
          ? signal.reason === 'replaced'
            ? CronRunStatuses.stopped
            : CronRunStatuses.failed
          : result.exitCode === 0
            ? CronRunStatuses.succeeded
            : CronRunStatuses.failed,
        release: result.release,
        exitCode: result.exitCode,
        signal: result.signal,
        output: result.output,
        error: stopped
          ? signal.reason === 'replaced'
            ? 'stopped by a newer run (concurrency_policy replace)'
            : 'the controller stopped while it ran'
          : result.timedOut || timeout.aborted
            ? `timed out after ${Math.round(this.#o.runTimeoutMs / 1000)} s`
            : null,
      });
      log.info({ exitCode: result.exitCode, signal: result.signal }, 'cron run ended');
    } catch (error) {
      // The app has no live release, its build is gone, the runtime refused: a failed run.
      // A runtime may also reject a one-off it was told to stop: then it was stopped.
      const replaced = signal.aborted && signal.reason === 'replaced';
      const message = replaced
        ? 'stopped by a newer run (concurrency_policy replace)'
        : error instanceof Error
          ? error.message
          : String(error);
      await this.#o.cron
        .finish(run, {
          status: replaced ? CronRunStatuses.stopped : CronRunStatuses.failed,
          release: null,
          exitCode: null,
          signal: null,
          output: '',
          error: message,
        })
        .catch((cause: unknown) => log.error({ err: cause }, 'could not record a cron run'));
      log.warn({ err: error }, 'cron run failed to start');
    }
  }
}
