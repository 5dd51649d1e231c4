/**
 * A set of listeners woken when the change log may have new rows. Firing is cheap and
 * coalesced to one call per listener per microtask, because a burst of commits needs only
 * one read.
 */
export class WakeSignal {
  readonly #listeners = new Set<() => void>();
  #pending = false;

  listen(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  fire(): void {
    if (this.#pending) return;
    this.#pending = true;
    queueMicrotask(() => {
      this.#pending = false;
      for (const listener of this.#listeners) listener();
    });
  }
}
