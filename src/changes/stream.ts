import { randomUUID } from 'node:crypto';
import type { Store, ChangeLogReader, RawChange } from '../store/index.js';
import { Lifecycle, type LifecycleState } from '../lifecycle/index.js';
import type { Logger } from '../logging/index.js';
import type { ChangeEvent, EditType } from './events.js';
import type { WatcherHub } from './hub.js';

/** Idle polling: the fallback when no wake-up arrives (DESIGN.md: 100 ms ×1.4 up to 10 s). */
export interface PollBackoff {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
}

/** How a stream reads, records and prunes: compiled with the server's options. */
export interface ChangeStreamTuning {
  /** Rows per read. */
  readonly batchSize: number;
  readonly backoff: PollBackoff;
  /** How often, at most, the reader records its position while it advances. */
  readonly witnessIntervalMs: number;
  /** How often the reader deletes rows every live reader has passed. */
  readonly pruneIntervalMs: number;
  /** A reader whose witness is older than this is dead and no longer holds rows back. */
  readonly witnessTtlMs: number;
}

export interface ChangeStreamOptions extends ChangeStreamTuning {
  readonly store: Store;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /** Names this reader in the witness table; a fresh UUID per stream when absent. */
  readonly readerId?: string;
}

/**
 * The one reader of the change log per store. It wakes on commits (in-process on SQLite,
 * LISTEN/NOTIFY on PostgreSQL) and polls with backoff as a fallback, coalesces each read into
 * one event per changed key and hands it to the hub. It records its position in the witness
 * table, and prunes what every live reader has passed.
 */
export class ChangeStream {
  readonly #store: Store;
  readonly #hub: WatcherHub;
  readonly #logger: Logger;
  readonly #readerId: string;
  readonly #batchSize: number;
  readonly #backoff: PollBackoff;
  readonly #witnessIntervalMs: number;
  readonly #pruneIntervalMs: number;
  readonly #witnessTtlMs: number;
  readonly #lifecycle = new Lifecycle('change stream');
  #reader: ChangeLogReader | undefined;
  #namespaces = new Map<number, string>();
  #unlistenWake: (() => void) | undefined;
  #woken = false;
  #wakeWaiter: (() => void) | undefined;
  #draining: Promise<number> = Promise.resolve(0);
  #loop: Promise<void> | undefined;
  #lastWitness = { at: 0, lower: '', upper: '' };
  #lastPrune = 0;

  constructor(options: ChangeStreamOptions) {
    this.#store = options.store;
    this.#hub = options.hub;
    this.#logger = options.logger.child({ component: 'change-stream' });
    this.#readerId = options.readerId ?? randomUUID();
    this.#batchSize = options.batchSize;
    this.#backoff = options.backoff;
    this.#witnessIntervalMs = options.witnessIntervalMs;
    this.#pruneIntervalMs = options.pruneIntervalMs;
    this.#witnessTtlMs = options.witnessTtlMs;
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  get readerId(): string {
    return this.#readerId;
  }

  /**
   * Positions the reader at the head of the log and records its witness, without starting the
   * loop; `start` runs the loop. Tests and benchmarks may drive `drain` by hand instead.
   */
  async open(): Promise<void> {
    this.#lifecycle.transition('starting');
    try {
      this.#unlistenWake = this.#store.changeLog.onWake(() => this.#wake());
      this.#reader = await this.#store.changeLog.openReader();
      await this.#loadNamespaces();
      await this.#recordWitness(true);
    } catch (error) {
      this.#unlistenWake?.();
      this.#lifecycle.transition('failed');
      throw error;
    }
  }

  /** Opens the stream if needed and runs its loop until `stop`. */
  async start(): Promise<void> {
    if (this.#lifecycle.state === 'created') await this.open();
    this.#lifecycle.assert('starting');
    this.#lifecycle.transition('running');
    this.#loop = this.#run(this.#lifecycle.signal);
  }

  /**
   * Stops the loop, ends every subscription and removes this reader's witness, so a stopped
   * controller holds no change-log rows back.
   */
  async stop(): Promise<void> {
    const state = this.#lifecycle.state;
    if (state === 'stopped' || state === 'stopping') return;
    if (state === 'created' || state === 'failed') {
      if (state === 'created') this.#lifecycle.transition('stopped');
      return;
    }
    this.#lifecycle.transition('stopping');
    this.#wake();
    await this.#loop;
    await this.#draining.catch(() => undefined);
    this.#unlistenWake?.();
    this.#hub.stop();
    await this.#store.db
      .deleteFrom('change_log_witness')
      .where('reader_id', '=', this.#readerId)
      .execute()
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'could not remove witness'));
    this.#lifecycle.transition('stopped');
  }

  #wake(): void {
    this.#woken = true;
    const waiter = this.#wakeWaiter;
    this.#wakeWaiter = undefined;
    waiter?.();
  }

  async #run(signal: AbortSignal): Promise<void> {
    let delay = this.#backoff.initialMs;
    while (!signal.aborted) {
      this.#woken = false;
      try {
        const delivered = await this.drain();
        delay =
          delivered > 0
            ? this.#backoff.initialMs
            : Math.min(delay * this.#backoff.factor, this.#backoff.maxMs);
        await this.#recordWitness(false);
        if (Date.now() - this.#lastPrune >= this.#pruneIntervalMs) await this.prune();
      } catch (error) {
        if (signal.aborted) break;
        this.#logger.warn({ err: error }, 'reading the change log failed; retrying');
        delay = Math.min(Math.max(delay, this.#backoff.initialMs) * 2, this.#backoff.maxMs);
      }
      if (this.#woken || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#wakeWaiter = undefined;
          resolve();
        }, delay);
        this.#wakeWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * Reads until the log has nothing new, dispatching one coalesced batch per read. Returns the
   * number of events dispatched. Concurrent calls run one after another.
   */
  drain(): Promise<number> {
    const run = this.#draining.catch(() => 0).then(() => this.#drainOnce());
    this.#draining = run;
    return run;
  }

  async #drainOnce(): Promise<number> {
    const reader = this.#reader;
    if (!reader) throw new Error('the change stream is not open');
    let delivered = 0;
    for (;;) {
      const { changes, more } = await reader.read(this.#batchSize);
      if (changes.length > 0) {
        const events = await this.#coalesce(changes);
        this.#hub.dispatch(events);
        delivered += events.length;
      }
      if (!more) return delivered;
    }
  }

  async #coalesce(changes: readonly RawChange[]): Promise<ChangeEvent[]> {
    if (changes.some((c) => !this.#namespaces.has(c.namespaceId))) await this.#loadNamespaces();
    const byKey = new Map<
      string,
      { namespace: string; changed: string; editTypes: number; lastEditType: EditType }
    >();
    for (const change of changes) {
      const namespace = this.#namespaces.get(change.namespaceId);
      if (namespace === undefined) {
        this.#logger.warn(
          { namespaceId: change.namespaceId },
          'change in an unknown namespace skipped',
        );
        continue;
      }
      const key = `${change.namespaceId}\u0000${change.changed}`;
      const existing = byKey.get(key);
      if (existing) {
        existing.editTypes |= change.editType;
        existing.lastEditType = change.editType as EditType;
      } else {
        byKey.set(key, {
          namespace,
          changed: change.changed,
          editTypes: change.editType,
          lastEditType: change.editType as EditType,
        });
      }
    }
    return [...byKey.values()];
  }

  async #loadNamespaces(): Promise<void> {
    const rows = await this.#store.db
      .selectFrom('change_log_namespace')
      .select(['id', 'namespace'])
      .execute();
    this.#namespaces = new Map(rows.map((r) => [r.id, r.namespace]));
  }

  /** Writes this reader's position when it moved (at most once per interval) or to stay live. */
  async #recordWitness(force: boolean): Promise<void> {
    const reader = this.#reader;
    if (!reader) return;
    const { lower, upper } = reader.bounds();
    const now = Date.now();
    const moved = lower !== this.#lastWitness.lower || upper !== this.#lastWitness.upper;
    const due =
      now - this.#lastWitness.at >= (moved ? this.#witnessIntervalMs : this.#witnessTtlMs / 4);
    if (!force && !due) return;
    const updatedAt = new Date(now).toISOString();
    await this.#store.db
      .insertInto('change_log_witness')
      .values({
        reader_id: this.#readerId,
        lower_bound: lower,
        upper_bound: upper,
        updated_at: updatedAt,
      })
      .onConflict((oc) =>
        oc
          .column('reader_id')
          .doUpdateSet({ lower_bound: lower, upper_bound: upper, updated_at: updatedAt }),
      )
      .execute();
    this.#lastWitness = { at: now, lower, upper };
  }

  /**
   * Deletes witnesses of dead readers, then the change-log rows that every live reader has
   * passed. This reader's own witness is brought up to date first. Returns the rows deleted.
   */
  async prune(): Promise<number> {
    this.#lastPrune = Date.now();
    // A fresh position first, so the witness holds back no more than it must.
    this.#reader?.refresh();
    await this.drain();
    await this.#recordWitness(true);
    const staleBefore = new Date(Date.now() - this.#witnessTtlMs).toISOString();
    return this.#store.transact(async (tx) => {
      await tx.deleteFrom('change_log_witness').where('updated_at', '<', staleBefore).execute();
      const live = await tx.selectFrom('change_log_witness').select('lower_bound').execute();
      const deleted = await this.#store.changeLog.prune(
        tx,
        live.map((w) => w.lower_bound),
      );
      if (deleted > 0) this.#logger.debug({ deleted }, 'pruned the change log');
      return deleted;
    });
  }
}
