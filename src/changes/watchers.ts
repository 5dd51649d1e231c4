import type { ChangeEvent } from './events.js';
import { Subscription, type Subscriber, type SubscriptionFilter, type WatcherHub } from './hub.js';
import { WaiterQueue } from './waiters.js';

export interface NotifyWatcherOptions {
  readonly filters: readonly SubscriptionFilter[];
  readonly signal?: AbortSignal;
}

/**
 * Signals "something you watch changed", at most once per read no matter how many changes came.
 * The first signal comes at once, so a consumer does its initial work in the same loop as its
 * later work. Pending signals fold into one, so a notify watcher never falls behind.
 */
export class NotifyWatcher implements AsyncIterableIterator<void>, Subscriber {
  readonly #unregister: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.close();
  #dirty = true;
  #ended = false;
  #error: Error | undefined;
  readonly #waiters = new WaiterQueue();

  constructor(hub: WatcherHub, options: NotifyWatcherOptions) {
    this.#signal = options.signal;
    this.#unregister = hub.register(options.filters, this);
    if (this.#signal?.aborted) this.close();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get error(): Error | undefined {
    return this.#error;
  }

  accept(_events: readonly ChangeEvent[]): void {
    this.#dirty = true;
    this.#waiters.wakeOne();
  }

  end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#waiters.wakeAll();
  }

  async next(): Promise<IteratorResult<void>> {
    // Earlier callers are served first.
    if (this.#waiters.size > 0 && !this.#ended) await this.#waiters.wait();
    for (;;) {
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return { done: true, value: undefined };
      }
      if (this.#dirty) {
        this.#dirty = false;
        return { done: false, value: undefined };
      }
      await this.#waiters.wait();
    }
  }

  close(): void {
    this.#unregister();
    this.end(undefined);
  }

  return(): Promise<IteratorResult<void>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export interface KeysWatcherOptions {
  readonly filters: readonly SubscriptionFilter[];
  /** The keys that exist now; runs after the subscription is in place, so nothing is lost. */
  readonly initial: () => Promise<Iterable<string>>;
  readonly bufferLimit?: number;
  readonly signal?: AbortSignal;
}

/**
 * Yields keys: first every key the initial query returns, then the keys of each batch of
 * changes (unique, in order of first change). It subscribes before the initial query runs, so
 * a change committed meanwhile shows up at least once. A consumer that falls more than
 * `bufferLimit` events behind is dropped with SubscriberTooSlowError.
 */
export class KeysWatcher implements AsyncIterableIterator<readonly string[]> {
  readonly #subscription: Subscription;
  #initial: Promise<Iterable<string>> | undefined;

  constructor(hub: WatcherHub, options: KeysWatcherOptions) {
    this.#subscription = new Subscription(hub, {
      filters: options.filters,
      ...(options.bufferLimit === undefined ? {} : { bufferLimit: options.bufferLimit }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    this.#initial = options.initial();
    // Until the first read consumes it, a failed initial query must not be unhandled.
    this.#initial.catch(() => undefined);
  }

  get error(): Error | undefined {
    return this.#subscription.error;
  }

  async next(): Promise<IteratorResult<readonly string[]>> {
    const initial = this.#initial;
    if (initial) {
      this.#initial = undefined;
      try {
        return { done: false, value: [...new Set(await initial)] };
      } catch (error) {
        this.close();
        throw error;
      }
    }
    const batch = await this.#subscription.next();
    if (batch.done) return batch;
    return { done: false, value: [...new Set(batch.value.map((e) => e.changed))] };
  }

  close(): void {
    this.#subscription.close();
  }

  return(): Promise<IteratorResult<readonly string[]>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
