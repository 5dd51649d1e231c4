import {
  AllEdits,
  ChangeStreamStoppedError,
  SubscriberTooSlowError,
  type ChangeEvent,
} from './events.js';
import { WaiterQueue } from './waiters.js';

/** Which changes a subscription wants: one namespace, some edit types, optionally some keys. */
export interface SubscriptionFilter {
  readonly namespace: string;
  /** Edit-type bits to match (EditType values OR-ed); default all. */
  readonly mask?: number;
  readonly predicate?: (changed: string) => boolean;
}

/** Receives the matching events of each batch. Implementations never block the hub. */
export interface Subscriber {
  accept(events: readonly ChangeEvent[]): void;
  /** The hub is done with this subscriber: closed by it, evicted, or the stream stopped. */
  end(error: Error | undefined): void;
}

interface Registration {
  readonly filters: readonly SubscriptionFilter[];
  readonly subscriber: Subscriber;
}

function matches(filters: readonly SubscriptionFilter[], event: ChangeEvent): boolean {
  return filters.some(
    (f) =>
      f.namespace === event.namespace &&
      (event.editTypes & (f.mask ?? AllEdits)) !== 0 &&
      (f.predicate === undefined || f.predicate(event.changed)),
  );
}

/**
 * Fans the change stream's batches out to subscribers. Dispatch is synchronous and never waits
 * on a subscriber: each holds its own bounded buffer and is dropped when it overflows.
 */
export class WatcherHub {
  readonly #registrations = new Set<Registration>();
  #stopped: Error | undefined;

  /** Registers a subscriber; the returned function removes it. */
  register(filters: readonly SubscriptionFilter[], subscriber: Subscriber): () => void {
    if (this.#stopped) {
      subscriber.end(this.#stopped);
      return () => undefined;
    }
    const registration = { filters, subscriber };
    this.#registrations.add(registration);
    return () => {
      if (this.#registrations.delete(registration)) subscriber.end(undefined);
    };
  }

  /** Hands one coalesced batch to every subscriber that it concerns. */
  dispatch(events: readonly ChangeEvent[]): void {
    if (events.length === 0) return;
    for (const registration of this.#registrations) {
      const matching = events.filter((e) => matches(registration.filters, e));
      if (matching.length > 0) registration.subscriber.accept(matching);
    }
  }

  /** Ends a subscriber with an error of its own (eviction), leaving the others untouched. */
  evict(subscriber: Subscriber, error: Error): void {
    for (const registration of this.#registrations) {
      if (registration.subscriber === subscriber) {
        this.#registrations.delete(registration);
        subscriber.end(error);
      }
    }
  }

  /** Ends every subscription; later subscriptions end at once. */
  stop(error: Error = new ChangeStreamStoppedError()): void {
    this.#stopped = error;
    const registrations = [...this.#registrations];
    this.#registrations.clear();
    for (const r of registrations) r.subscriber.end(error);
  }

  get subscriberCount(): number {
    return this.#registrations.size;
  }
}

export interface SubscribeOptions {
  readonly filters: readonly SubscriptionFilter[];
  /** How many undelivered events may wait before the subscription is dropped. */
  readonly bufferLimit?: number;
  readonly signal?: AbortSignal;
}

export const DEFAULT_BUFFER_LIMIT = 10_000;

/**
 * A buffered subscription: an async iterator of event batches. Batches that pile up while the
 * consumer is busy are merged into one on the next read. A consumer that lets more than
 * `bufferLimit` events pile up is dropped: its next read throws SubscriberTooSlowError.
 * Aborting the signal ends iteration cleanly.
 */
export class Subscription implements AsyncIterableIterator<readonly ChangeEvent[]>, Subscriber {
  readonly #hub: WatcherHub;
  readonly #limit: number;
  readonly #unregister: () => void;
  #pending: ChangeEvent[] = [];
  #ended = false;
  #error: Error | undefined;
  readonly #waiters = new WaiterQueue();
  readonly #onAbort = () => this.close();
  readonly #signal: AbortSignal | undefined;

  constructor(hub: WatcherHub, options: SubscribeOptions) {
    this.#hub = hub;
    this.#limit = options.bufferLimit ?? DEFAULT_BUFFER_LIMIT;
    this.#signal = options.signal;
    this.#unregister = hub.register(options.filters, this);
    if (this.#signal?.aborted) this.close();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Why the subscription ended, if it ended with an error. */
  get error(): Error | undefined {
    return this.#error;
  }

  accept(events: readonly ChangeEvent[]): void {
    if (this.#ended) return;
    if (this.#pending.length + events.length > this.#limit) {
      this.#hub.evict(this, new SubscriberTooSlowError(this.#limit));
      return;
    }
    for (const e of events) this.#pending.push(e);
    this.#waiters.wakeOne();
  }

  end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#pending = [];
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#waiters.wakeAll();
  }

  /** Resolves with everything pending, waiting for the next batch when nothing is. */
  async next(): Promise<IteratorResult<readonly ChangeEvent[]>> {
    // Earlier callers are served first.
    if (this.#waiters.size > 0 && !this.#ended) await this.#waiters.wait();
    while (this.#pending.length === 0) {
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return { done: true, value: undefined };
      }
      await this.#waiters.wait();
    }
    const batch = this.#pending;
    this.#pending = [];
    if (this.#waiters.size > 0 && this.#pending.length > 0) this.#waiters.wakeOne();
    return { done: false, value: batch };
  }

  /** Leaves the hub; pending reads end without an error. */
  close(): void {
    this.#unregister();
    this.end(undefined);
  }

  return(): Promise<IteratorResult<readonly ChangeEvent[]>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
