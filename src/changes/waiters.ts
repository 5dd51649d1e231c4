/**
 * Readers waiting on an async iterator, served in the order they called `next()`. A consumer
 * may call `next()` again before the last call settled (as `for await` never does, but a race
 * with a timeout does); each call gets its own value, none is lost to an abandoned call.
 */
export class WaiterQueue {
  readonly #waiters: Array<() => void> = [];

  /** Resolves when `wakeOne` or `wakeAll` reaches this caller. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  get size(): number {
    return this.#waiters.length;
  }

  wakeOne(): void {
    this.#waiters.shift()?.();
  }

  wakeAll(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
