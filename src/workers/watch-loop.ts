import { NotifyWatcher, type ChangeTopic, type WatcherHub } from '../changes/index.js';
import { Lifecycle, type LifecycleState } from '../lifecycle/index.js';
import type { Logger } from '../logging/index.js';

/**
 * Calls `onChange` once per batch of changes in any of `topics` (and once at the start, as a
 * watcher's first event is the initial state) until `signal` aborts. A watcher that ends
 * for another reason is logged, never thrown: the worker's periodic pass still runs.
 */
export async function watchChanges(options: {
  readonly hub: WatcherHub;
  readonly topics: readonly ChangeTopic[];
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly onChange: () => void;
}): Promise<void> {
  const watcher = new NotifyWatcher(options.hub, {
    filters: options.topics,
    signal: options.signal,
  });
  try {
    for await (const _change of watcher) options.onChange();
  } catch (error) {
    if (!options.signal.aborted) {
      options.logger.error(
        { err: error },
        'the watcher ended; changes are now seen by the periodic pass only',
      );
    }
  }
}

/** What a coalescing worker is built from: compiled by its owner, not read from the env. */
export interface CoalescingWorkerOptions {
  /** Names the worker in its lifecycle's errors. */
  readonly name: string;
  readonly hub: WatcherHub;
  /**
   * A run is due once per batch of changes in these (and once at the start): topics of the
   * domain services the owner reads, so that no worker names a table.
   */
  readonly topics: readonly ChangeTopic[];
  readonly logger: Logger;
  /** How often `onInterval` is called while the worker runs. */
  readonly intervalMs: number;
  /** One run. Runs never overlap. */
  run(signal: AbortSignal): Promise<void>;
  /**
   * What the fallback interval does (the store does not see everything: units crash, a router
   * restarts); unset, it asks for a run.
   */
  onInterval?(): Promise<void>;
  /** Told when a run asked for by a change or the interval fails (request() callers see theirs). */
  onRunFailure(error: unknown): void;
}

/**
 * The shape every watcher-driven worker shares (the deployer, the reconciler, router sync): a
 * lifecycle, a watcher whose every batch asks for a run, a fallback interval, and a rerun latch.
 * Runs never overlap; every ask made while one runs is folded into one next run, which starts
 * after they asked, so however many ask, at most one run is in progress and one is due.
 */
export class CoalescingWorker {
  readonly #o: CoalescingWorkerOptions;
  readonly #lifecycle: Lifecycle;
  #watch: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The run in progress. */
  #running: Promise<void> | undefined;
  /** The run that is due, shared by everything that asked while #running ran. */
  #next: Promise<void> | undefined;

  constructor(options: CoalescingWorkerOptions) {
    this.#o = options;
    this.#lifecycle = new Lifecycle(options.name);
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** Aborted when the worker starts stopping; runs are given it. */
  get signal(): AbortSignal {
    return this.#lifecycle.signal;
  }

  /** Whether no run is in progress or due. */
  get idle(): boolean {
    return this.#running === undefined && this.#next === undefined;
  }

  start(): void {
    this.#lifecycle.transition('starting');
    this.#watch = watchChanges({
      hub: this.#o.hub,
      topics: this.#o.topics,
      signal: this.#lifecycle.signal,
      logger: this.#o.logger,
      onChange: () => this.poke(),
    });
    this.#timer = setInterval(() => {
      if (this.#lifecycle.state !== 'running') return;
      if (!this.#o.onInterval) return this.poke();
      this.#o.onInterval().catch((error: unknown) => this.#o.onRunFailure(error));
    }, this.#o.intervalMs);
    this.#timer.unref();
    this.#lifecycle.transition('running');
  }

  /**
   * Stops asking for runs, lets `drain` wind down what the owner keeps running (its tasks), then
   * waits for the watcher and for the run in progress and the one due.
   */
  async stop(drain?: () => Promise<void>): Promise<void> {
    if (this.#lifecycle.state !== 'running') return;
    this.#lifecycle.transition('stopping');
    clearInterval(this.#timer);
    await drain?.();
    await this.#watch;
    await this.#next?.catch(() => undefined);
    await this.#running?.catch(() => undefined);
    this.#lifecycle.transition('stopped');
  }

  /**
   * A run that starts after this call, resolved (or rejected) when it ends. Calls made while
   * a run is in progress share the next one: the run in progress may have read the state
   * before the caller changed it. Works in any state, so that an owner can run on demand.
   */
  request(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#startRun();
    const next = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.#startRun();
      });
    this.#next = next;
    return next;
  }

  /** Asks for a run while the worker runs; a failure goes to `onRunFailure`, once per run. */
  poke(): void {
    if (this.#lifecycle.state !== 'running' || this.#next) return;
    this.request().catch((error: unknown) => this.#o.onRunFailure(error));
  }

  #startRun(): Promise<void> {
    const run = this.#o.run(this.#lifecycle.signal).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}
