import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WatcherHub } from '../../changes/index.js';
import type { AppsService } from '../../domain/apps/index.js';
import {
  TaskAbortReasons,
  type Deployment,
  type DeploymentsService,
  type DeploymentTask,
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
    { appId: string; handle: DeploymentTask; done: Promise<void> }
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
      for (const task of this.#running.values()) task.handle.abort(TaskAbortReasons.stopping);
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
      const handle = this.#openTask(task);
      const done = this.#runTask(task, handle).finally(() => {
        this.#running.delete(task.id);
        this.#worker.poke();
      });
      this.#running.set(task.id, { appId: task.appId, handle, done });
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

  #pipelineOf(task: Deployment): readonly DeployStep[] {
    const { pipelines } = this.#options;
    return task.kind === 'undeploy' ? pipelines.undeploy : pipelines.deploy;
  }

  /**
   * The claimed task's handle: it renews the lease, and aborts its signal when the lease is
   * lost, a cancel is asked or `stop` aborts it; every step runs under that signal.
   */
  #openTask(task: Deployment): DeploymentTask {
    const { deployments, controllerId, leaseMs } = this.#options;
    return deployments.openTask(task.id, controllerId, {
      steps: this.#pipelineOf(task).map((s) => s.name),
      leaseMs,
      onRenewalError: (error) =>
        this.#logger.warn({ err: error, deployment: task.id }, 'could not renew the lease'),
    });
  }

  async #runTask(task: Deployment, handle: DeploymentTask): Promise<void> {
    const { controllerId } = this.#options;
    const log = this.#logger.child({ deployment: task.id });
    log.info({ kind: task.kind }, 'claimed a deployment task');
    const pipeline = this.#pipelineOf(task);
    const { signal } = handle;
    handle.log(`claimed by controller ${controllerId}`);
    const state: PipelineState = {};
    const workDir = path.join(this.#options.workRoot, task.id);

    let outcome: {
      status: 'succeeded' | 'failed';
      error: string | null;
      processErrors?: Record<string, string | null>;
    } = {
      status: 'succeeded',
      error: null,
    };
    // Whether the pipeline ended because the handle's signal aborted: then the handle says why.
    let aborted = false;
    try {
      const app = await this.#options.apps.findById(task.appId);
      if (!app) throw new StepFailure('the app was destroyed');
      await mkdir(workDir, { recursive: true, mode: 0o700 });
      for (const step of pipeline) {
        signal.throwIfAborted();
        await handle.startStep(step.name);
        if (this.#options.stepDelayMs > 0)
          await sleep(this.#options.stepDelayMs, undefined, { signal });
        await this.#runStep(step, handle, {
          deployment: task,
          app,
          workDir,
          signal,
          state,
          log: (line) => handle.log(line),
          report: (details) => handle.report(details),
        });
        signal.throwIfAborted();
        handle.finishStep(step.name, 'succeeded');
      }
    } catch (error) {
      aborted = signal.aborted;
      if (!aborted) outcome = failureOf(error, handle, log);
    }
    try {
      const release =
        state.releaseVersion === undefined ? {} : { releaseVersion: state.releaseVersion };
      const finished = aborted
        ? await handle.finishAborted(release)
        : await handle.finish({ ...outcome, ...release });
      if (!finished && aborted && handle.abortReason === TaskAbortReasons.leaseLost)
        log.warn('lost the lease; another controller owns the task now');
      else if (!finished) log.warn('lost the lease before recording the outcome');
      else
        log.info(
          {
            status: aborted ? `aborted: ${handle.abortReason}` : outcome.status,
            release: state.releaseVersion,
          },
          'deployment task finished',
        );
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

/**
 * The outcome of a pipeline that threw for another reason than the task's signal: the running
 * step ends failed, with a StepFailure's message, or an internal error the log explains.
 */
function failureOf(
  error: unknown,
  handle: DeploymentTask,
  log: Logger,
): { status: 'failed'; error: string; processErrors?: Record<string, string | null> } {
  const current = handle.currentStep;
  if (current) handle.finishStep(current, 'failed');
  if (error instanceof StepFailure) {
    return {
      status: 'failed',
      error: error.message,
      ...(error.processErrors ? { processErrors: { ...error.processErrors } } : {}),
    };
  }
  log.error({ err: error }, 'a deployment step failed unexpectedly');
  return {
    status: 'failed',
    error: `${current ?? 'startup'} failed: internal error (see the controller log)`,
  };
}

/** A failure's first line: a build failure's message goes on with the build's last lines. */
function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
