import { payloadBytes, type NewDeploymentEvent } from './events.js';
import type { DeploymentOutcome, DeploymentProgress, StepRecord, StepStatus } from './model.js';
import type { DeploymentsState } from './service.js';

/** What the holder of a task learns from each write. */
export interface TaskWriteStatus {
  /** False once another controller owns the task (the lease lapsed). */
  readonly held: boolean;
  readonly cancelRequested: boolean;
}

/** Why a task's signal aborted. */
export const TaskAbortReasons = Object.freeze({
  /** A user asked for it (POST …/cancel); the task ends cancelled. */
  cancelled: 'cancelled',
  /** Another controller owns the task now; this holder writes nothing more. */
  leaseLost: 'lease-lost',
  /** This controller is stopping; the task ends failed. */
  stopping: 'stopping',
} as const);
export type TaskAbortReason = (typeof TaskAbortReasons)[keyof typeof TaskAbortReasons];

/** The reason a task handle's signal carries, so a step that rethrows it is recognised. */
export class TaskAborted extends Error {
  override readonly name = 'TaskAborted';
  readonly reason: TaskAbortReason;

  constructor(reason: TaskAbortReason) {
    super(`the deployment task was aborted: ${reason}`);
    this.reason = reason;
  }
}

/** How a task handle writes; compiled by the service from its own options. */
export interface DeploymentTaskOptions {
  /** The steps of the task's pipeline, in order. */
  readonly steps: readonly string[];
  /**
   * Told after every write and heartbeat what it found. The handle acts on it itself: a lost
   * lease or a cancel aborts its signal. A lease that could not be renewed for `leaseMs`
   * counts as lost.
   */
  readonly onStatus?: (status: TaskWriteStatus) => void;
  /** How long the lease lasts unrenewed; the handle renews it every third of that. */
  readonly leaseMs: number;
  /** Told when one renewal failed (the lease may still hold). */
  readonly onRenewalError?: (error: unknown) => void;
}

/** The per-task limits the service passes to every handle. */
export interface DeploymentTaskLimits {
  /** The payload bytes a task's events may take; older lines are trimmed past it. */
  readonly maxEventBytes: number;
  /** A logged line is written at most this long after it was logged. */
  readonly flushMs: number;
  /** This many buffered lines are written at once, without waiting for flushMs. */
  readonly flushLines: number;
}

/**
 * A claimed task, as its holder drives it (Backstage's TaskAgent): start a step, log lines,
 * finish a step, report what it found, finish the task, the lease's heartbeat meanwhile, and
 * abort. Every write and heartbeat checks the lease in the same transaction; a lost lease, a
 * cancel request or the holder's `abort` aborts `signal`, which the steps run under.
 * Lines are buffered and written in batches (at most `flushMs` late), one write at a time, so
 * events keep their order; past `maxEventBytes` the oldest lines are trimmed, leaving a marker
 * that says how many went.
 */
export class DeploymentTask {
  readonly id: string;
  readonly #owner: string;
  readonly #state: DeploymentsState;
  /** The service's clock as ISO text, `offsetMs` from now. */
  readonly #now: (offsetMs?: number) => string;
  readonly #options: DeploymentTaskOptions;
  readonly #limits: DeploymentTaskLimits;
  #steps: StepRecord[];
  #current: string | null = null;
  #pending: NewDeploymentEvent[] = [];
  #storedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Writes run one after another; this is the last one queued. */
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #heartbeat: NodeJS.Timeout;
  #lastRenewal = Date.now();
  readonly #abort = new AbortController();

  constructor(init: {
    id: string;
    owner: string;
    state: DeploymentsState;
    now: (offsetMs?: number) => string;
    options: DeploymentTaskOptions;
    limits: DeploymentTaskLimits;
  }) {
    this.id = init.id;
    this.#owner = init.owner;
    this.#state = init.state;
    this.#now = init.now;
    this.#options = init.options;
    this.#limits = init.limits;
    this.#steps = init.options.steps.map((name) => ({
      name,
      status: 'pending',
      startedAt: null,
      finishedAt: null,
    }));
    const { leaseMs } = init.options;
    this.#heartbeat = setInterval(() => this.#renew(leaseMs), Math.max(20, leaseMs / 3));
    this.#heartbeat.unref();
  }

  #renew(leaseMs: number): void {
    this.#state.heartbeat(this.id, this.#owner, this.#now(leaseMs)).then(
      (status) => {
        if (this.#closed) return;
        if (status.held) this.#lastRenewal = Date.now();
        this.#observe(status);
      },
      (error: unknown) => {
        if (this.#closed) return;
        this.#options.onRenewalError?.(error);
        if (Date.now() - this.#lastRenewal > leaseMs)
          this.#observe({ held: false, cancelRequested: false });
      },
    );
  }

  /** Passes what a write or heartbeat found on, and aborts on a lost lease or a cancel. */
  #observe(status: TaskWriteStatus): void {
    this.#options.onStatus?.(status);
    if (!status.held) this.abort(TaskAbortReasons.leaseLost);
    else if (status.cancelRequested) this.abort(TaskAbortReasons.cancelled);
  }

  /** Aborted (with a TaskAborted) when the task must stop: run every step under it. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Why `signal` aborted; undefined while the task may go on. */
  get abortReason(): TaskAbortReason | undefined {
    const reason: unknown = this.#abort.signal.reason;
    return reason instanceof TaskAborted ? reason.reason : undefined;
  }

  /**
   * Aborts the task's signal; the first reason stays. A lost lease also stops the handle's
   * writes and heartbeats at once: the task is another controller's now.
   */
  abort(reason: TaskAbortReason): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(new TaskAborted(reason));
    if (reason === TaskAbortReasons.leaseLost) this.close();
  }

  /** The step records as the handle has them. */
  get steps(): readonly StepRecord[] {
    return this.#steps;
  }

  /** The step running now, if any. */
  get currentStep(): string | null {
    return this.#current;
  }

  /** Adds a line to the current step's log (or the task's, between steps); written soon. */
  log(text: string): void {
    if (this.#closed) return;
    this.#pending.push({ kind: 'line', text, step: this.#current, at: this.#now() });
    if (this.#pending.length >= this.#limits.flushLines) this.#flushSoon(0);
    else this.#flushSoon(this.#limits.flushMs);
  }

  /** Marks the step running and writes that at once, with every line before it. */
  async startStep(name: string): Promise<void> {
    this.#mark(name, 'running');
    this.#current = name;
    this.#pending.push({ kind: 'step-started', step: name, at: this.#now() });
    await this.#write({ currentStep: name, steps: this.#steps });
  }

  /** Marks the step ended; written with the next write. */
  finishStep(name: string, status: Exclude<StepStatus, 'pending' | 'running'>): void {
    this.#mark(name, status);
    this.#pending.push({ kind: 'step-finished', status, step: name, at: this.#now() });
    if (this.#current === name) this.#current = null;
  }

  /** Records what the task found out (project metadata, process errors), with the lines so far. */
  async report(details: Omit<DeploymentProgress, 'steps' | 'currentStep'>): Promise<void> {
    await this.#write(details);
  }

  /** Writes the buffered lines now. */
  async flush(): Promise<void> {
    await this.#write(undefined);
  }

  /**
   * Ends the task: pending steps become skipped, the lines so far and a `finished` event are
   * written with the outcome, and the lease is released. False if the lease was lost first.
   */
  async finish(
    outcome: Omit<DeploymentOutcome, 'steps' | 'currentStep'> & { releaseVersion?: number | null },
  ): Promise<boolean> {
    this.#steps = this.#steps.map((s) =>
      s.status === 'pending' ? { ...s, status: 'skipped' } : s,
    );
    try {
      await this.flush();
    } finally {
      this.close();
    }
    const finished: NewDeploymentEvent = {
      kind: 'finished',
      status: outcome.status,
      error: outcome.error ?? null,
      release: outcome.releaseVersion ?? null,
      step: null,
      at: this.#now(),
    };
    const now = this.#now();
    return this.#state.finish(
      this.id,
      this.#owner,
      { ...outcome, steps: this.#steps, currentStep: null },
      now,
      [finished],
    );
  }

  /**
   * Ends a task whose signal aborted, saying why: the running step ends cancelled (or failed),
   * and the finished event says `cancelled during <step>` or `controller stopped during <step>`.
   * After a lost lease it writes nothing (the controller that finds the lease expired finishes
   * the task) and answers false, as `finish` does.
   */
  async finishAborted(release: { releaseVersion?: number | null } = {}): Promise<boolean> {
    const reason = this.abortReason;
    if (reason === undefined) throw new Error(`task ${this.id} was not aborted`);
    if (reason === TaskAbortReasons.leaseLost) {
      this.close();
      return false;
    }
    const where = this.#current ?? 'startup';
    const cancelled = reason === TaskAbortReasons.cancelled;
    if (this.#current) this.finishStep(this.#current, cancelled ? 'cancelled' : 'failed');
    return this.finish(
      cancelled
        ? { status: 'cancelled', error: `cancelled during ${where}`, ...release }
        : { status: 'failed', error: `controller stopped during ${where}`, ...release },
    );
  }

  /**
   * Stops heartbeats and writes: called by finish, or by the holder when it stops working on
   * the task; buffered lines are dropped.
   */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #mark(name: string, status: StepStatus): void {
    const now = this.#now();
    this.#steps = this.#steps.map((s) =>
      s.name !== name
        ? s
        : { ...s, status, ...(status === 'running' ? { startedAt: now } : { finishedAt: now }) },
    );
  }

  #flushSoon(delayMs: number): void {
    if (this.#timer && delayMs > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A failed background write keeps its lines; the next write (at the latest, the
      // task's finish, whose failure the holder sees) sends them again.
      this.#write(undefined).catch(() => undefined);
    }, delayMs);
    this.#timer.unref();
  }

  /** Queues one write of the pending events (and `progress`), after the writes before it. */
  #write(progress: DeploymentProgress | undefined): Promise<void> {
    const run = this.#writes.then(async () => {
      const events = this.#pending;
      this.#pending = [];
      if (events.length === 0 && progress === undefined) return;
      let status: TaskWriteStatus;
      try {
        status = await this.#state.progress(this.id, this.#owner, progress ?? {}, events);
      } catch (error) {
        this.#pending = [...events, ...this.#pending];
        throw error;
      }
      this.#observe(status);
      if (!status.held) return;
      for (const event of events) this.#storedBytes += payloadBytes(event);
      await this.#trim();
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** Past the limit, drops down to three quarters of it, so trims are rare, not per write. */
  async #trim(): Promise<void> {
    const { maxEventBytes } = this.#limits;
    if (this.#storedBytes <= maxEventBytes) return;
    const trimmed = await this.#state.trimEvents(
      this.id,
      this.#storedBytes - Math.floor((maxEventBytes * 3) / 4),
    );
    this.#storedBytes += trimmed.markerBytes - trimmed.freedBytes;
  }
}
