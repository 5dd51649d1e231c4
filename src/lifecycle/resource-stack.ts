/** One thing a stack opened, with how to let it go. */
interface Held {
  readonly what: string;
  readonly close: () => Promise<void> | void;
}

/**
 * What a composition root opens, kept in the order it was opened, let go in the reverse
 * order: on a failure half-way through start-up (only what was opened is closed) and on stop,
 * from one list rather than two kept by hand. Every closer runs even when one before it
 * failed; the first failure is thrown once all have run.
 */
export class ResourceStack {
  readonly #held: Held[] = [];
  #closing: Promise<void> | undefined;

  /** Opens something and keeps its closer; nothing is kept when opening throws. */
  async open<T>(
    what: string,
    open: () => Promise<T> | T,
    close: (value: T) => Promise<void> | void,
  ): Promise<T> {
    if (this.#closing) throw new Error(`cannot open ${what}: the stack is closing`);
    const value = await open();
    this.#held.push({ what, close: () => close(value) });
    return value;
  }

  /** Keeps a closer for something opened without the stack's help. */
  defer(what: string, close: () => Promise<void> | void): void {
    if (this.#closing) throw new Error(`cannot keep ${what}: the stack is closing`);
    this.#held.push({ what, close });
  }

  /**
   * Closes everything, newest first; the same promise for every caller. `onError` hears of
   * each closer that failed (the first one is also what the promise rejects with).
   */
  close(onError?: (what: string, error: unknown) => void): Promise<void> {
    this.#closing ??= (async () => {
      let first: { error: unknown } | undefined;
      for (const held of this.#held.reverse()) {
        try {
          await held.close();
        } catch (error) {
          onError?.(held.what, error);
          first ??= { error };
        }
      }
      this.#held.length = 0;
      if (first) throw first.error;
    })();
    return this.#closing;
  }
}
