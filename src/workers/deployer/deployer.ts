import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WatcherHub } from '../../changes/index.js';
import type { AppsService } from '../../domain/apps/index.js';
import type {
  Deployment,
  DeploymentsService,
  TaskWriteStatus,
} from '../../domain/deployments/index.js';
import type { LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import { CoalescingWorker } from '../watch-loop.js';
import { StepFailure, type DeployStep, type PipelineState, type StepContext } from './step.js';
import { formatDelay, retryDelayMs, type StepRetryPolicy } from './step-retry.js';

export interface DeployerOptions {
  readonly deployments: DeploymentsService;
  readonly apps: AppsService;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /** Who holds the leases this deployer takes; unique per controller process. */
  readonly controllerId: string;
  /** Where tasks get their work directories. */
  readonly workRoot: string;
  readonly pipelines: {
    readonly deploy: readonly DeployStep[];
    readonly undeploy: readonly DeployStep[];
  };
  /** Tasks of different apps run at once up to this many; one app's tasks never overlap. */
  readonly concurrency: number;
  /** How long a claim lasts without a heartbeat; a dead controller's task fails within it. */
  readonly leaseMs: number;
  /** Waits this long at the start of every step: fault injection for tests, 0 otherwise. */
  readonly stepDelayMs: number;
  /** How long `stop` waits for the running tasks it aborted to record their end. */
  readonly taskDrainMs: number;
  /** How a step whose StepFailure is retryable runs again. */
  readonly retry: StepRetryPolicy;
}

type AbortReason = 'cancelled' | 'lease-lost' | 'stopping';

class TaskAbort extends Error {
  readonly reason: AbortReason;
  constructor(reason: AbortReason) {
    super(reason);
    this.reason = reason;
  }
}

/**
 * The deployer: a worker driven by a watcher on the deployment tasks (not by a fixed poll).
 * On every change it claims queued tasks (compare-and-set, so with several controllers each
 * task runs once), runs each through its pipeline while renewing the task's lease, and fails
 * the tasks of controllers whose leases lapsed.
 */
export class Deployer {
  readonly #options: DeployerOptions;
  readonly #logger: Logger;
  readonly #worker: CoalescingWorker;
  readonly #running = new Map<
    string,
    { appId: string; abort: AbortController; done: Promise<void> }
  >();

  constructor(options: DeployerOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'deployer' });
    // A run claims what fits; one per batch of changes to deployments. The interval fails the
    // tasks of controllers whose leases lapsed (which, being a change, then asks for a run).
    this.#worker = new CoalescingWorker({
      name: 'deployer',
      hub: options.hub,
      topics: [options.deployments.taskChanges()],
      logger: this.#logger,
      intervalMs: Math.max(50, this.#options.leaseMs / 2),
      run: () => this.#claimWhatFits(),
      onInterval: () => this.#sweep(),
      onRunFailure: (error) => this.#logger.warn({ err: error }, 'could not claim queued tasks'),
    });
  }

  get state(): LifecycleState {
    return this.#worker.state;
  }

  start(): void {
    this.#worker.start();
    void this.#sweep();
  }

  /** Stops claiming, aborts running tasks (they end failed), waits up to the grace period. */
  async stop(): Promise<void> {
    await this.#worker.stop(async () => {
      for (const task of this.#running.values()) task.abort.abort(new TaskAbort('stopping'));
      const all = Promise.allSettled([...this.#running.values()].map((t) => t.done));
      await Promise.race([all, sleep(this.#options.taskDrainMs)]);
    });
  }

  async #sweep(): Promise<void> {
    try {
      const failed = await this.#options.deployments.failAbandoned();
      for (const id of failed)
        this.#logger.warn({ deployment: id }, 'failed a task whose controller stopped');
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not check for abandoned tasks');
    }
  }

  /** Claims queued tasks while there is capacity (runs of the worker, one at a time). */
  async #claimWhatFits(): Promise<void> {
    const { deployments, concurrency, controllerId, leaseMs } = this.#options;
    if (this.#worker.state !== 'running') return;
    const free = concurrency - this.#running.size;
    if (free <= 0) return;
    const busyApps = new Set([...this.#running.values()].map((t) => t.appId));
    for (const task of await deployments.queued(free * 4 + 4)) {
      if (this.#running.size >= concurrency || this.#worker.state !== 'running') return;
      if (busyApps.has(task.appId)) continue;
      const firstStep = (
        task.kind === 'undeploy' ? this.#options.pipelines.undeploy : this.#options.pipelines.deploy
      )[0];
      if (!(await deployments.claim(task.id, controllerId, leaseMs, firstStep?.name ?? null)))
        continue;
      busyApps.add(task.appId);
      const abort = new AbortController();
      const done = this.#runTask(task, abort).finally(() => {
        this.#running.delete(task.id);
        this.#worker.poke();
      });
      this.#running.set(task.id, { appId: task.appId, abort, done });
    }
  }

  /**
   * Runs one step, again after a wait while it fails with a retryable StepFailure, up to the
   * policy's attempts. Each retry is a line in the task's events, written before the wait; the
   * lease's heartbeat goes on meanwhile, and a cancel or a lost lease ends the wait at once
   * (the signal aborts the sleep). The last failure says how many runs it took.
   */
  async #runStep(
    step: DeployStep,
    handle: { log(line: string): void; flush(): Promise<void> },
    context: StepContext,
  ): Promise<void> {
    const { attempts } = this.#options.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        await step.run(context);
        return;
      } catch (error) {
        if (!(error instanceof StepFailure) || !error.retryable || context.signal.aborted)
          throw error;
        if (attempt >= attempts) {
          if (attempts === 1) throw error;
          throw new StepFailure(`gave up after ${attempts} attempts; the last: ${error.message}`, {
            retryable: true,
            ...(error.processErrors ? { processErrors: error.processErrors } : {}),
          });
        }
        const delayMs = retryDelayMs(this.#options.retry, attempt + 1);
        handle.log(
          `${step.name}: attempt ${attempt + 1} of ${attempts} after: ${firstLine(error.message)} ` +
            `(retrying in ${formatDelay(delayMs)})`,
        );
        // Written now, not at the next flush: a follower sees why the deploy is waiting, and
        // the write reports a cancel request, which aborts the wait below.
        await handle.flush().catch(() => undefined);
        await sleep(delayMs, undefined, { signal: context.signal });
      }
    }
  }

  async #runTask(task: Deployment, abort: AbortController): Promise<void> {
    const { deployments, controllerId, leaseMs, pipelines } = this.#options;
    const log = this.#logger.child({ deployment: task.id });
    log.info({ kind: task.kind }, 'claimed a deployment task');
    const pipeline = task.kind === 'undeploy' ? pipelines.undeploy : pipelines.deploy;
    const onStatus = ({ held, cancelRequested }: TaskWriteStatus) => {
      if (!held) abort.abort(new TaskAbort('lease-lost'));
      else if (cancelRequested) abort.abort(new TaskAbort('cancelled'));
    };
    const handle = deployments.openTask(task.id, controllerId, {
      steps: pipeline.map((s) => s.name),
      onStatus,
      leaseMs,
      onRenewalError: (error) => log.warn({ err: error }, 'could not renew the lease'),
    });
    handle.log(`claimed by controller ${controllerId}`);
    const state: PipelineState = {};
    const workDir = path.join(this.#options.workRoot, task.id);

    let outcome: {
      status: 'succeeded' | 'failed' | 'cancelled';
      error: string | null;
      processErrors?: Record<string, string | null>;
    } = {
      status: 'succeeded',
      error: null,
    };
    let current: string | undefined;
    try {
      const app = await this.#options.apps.findById(task.appId);
      if (!app) throw new StepFailure('the app was destroyed');
      await mkdir(workDir, { recursive: true, mode: 0o700 });
      for (const step of pipeline) {
        abort.signal.throwIfAborted();
        current = step.name;
        await handle.startStep(step.name);
        if (this.#options.stepDelayMs > 0)
          await sleep(this.#options.stepDelayMs, undefined, { signal: abort.signal });
        await this.#runStep(step, handle, {
          deployment: task,
          app,
          workDir,
          signal: abort.signal,
          state,
          log: (line) => handle.log(line),
          report: (details) => handle.report(details),
        });
        abort.signal.throwIfAborted();
        handle.finishStep(step.name, 'succeeded');
        current = undefined;
      }
    } catch (error) {
      const reason =
        abort.signal.aborted && abort.signal.reason instanceof TaskAbort
          ? abort.signal.reason.reason
          : undefined;
      if (reason === 'lease-lost') {
        log.warn('lost the lease; another controller owns the task now');
        handle.close();
        await rm(workDir, { recursive: true, force: true });
        return;
      }
      const where = current ?? 'startup';
      if (current) handle.finishStep(current, reason === 'cancelled' ? 'cancelled' : 'failed');
      if (reason === 'cancelled')
        outcome = { status: 'cancelled', error: `cancelled during ${where}` };
      else if (reason === 'stopping')
        outcome = { status: 'failed', error: `controller stopped during ${where}` };
      else if (error instanceof StepFailure) {
        outcome = {
          status: 'failed',
          error: error.message,
          ...(error.processErrors ? { processErrors: { ...error.processErrors } } : {}),
        };
      } else {
        log.error({ err: error }, 'a deployment step failed unexpectedly');
        outcome = {
          status: 'failed',
          error: `${where} failed: internal error (see the controller log)`,
        };
      }
    }
    try {
      const finished = await handle.finish({
        ...outcome,
        ...(state.releaseVersion === undefined ? {} : { releaseVersion: state.releaseVersion }),
      });
      if (!finished) log.warn('lost the lease before recording the outcome');
      else
        log.info(
          { status: outcome.status, release: state.releaseVersion },
          'deployment task finished',
        );
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

/** A failure's first line: a build failure's message goes on with the build's last lines. */
function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
