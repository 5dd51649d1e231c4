/**
 * One holder at a time per app, in this controller: a rollout, a scale, an undeploy and the
 * reconciler never act on one app's units at once. Waiters are served in arrival order.
 */
export class AppLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `work` while holding the app's lock. */
  async with<T>(appId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(appId) ?? Promise.resolve();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => held);
    this.#tails.set(appId, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(appId) === tail) this.#tails.delete(appId);
    }
  }

  /** True while someone holds or waits for the app's lock. */
  isBusy(appId: string): boolean {
    return this.#tails.has(appId);
  }
}
