import type { ReadEntry } from 'tar';

/**
 * Entries from the parser's events, read one at a time. The parser emits the next entry only
 * once the current one is consumed; a failure (the parser's, the stream's) wakes whichever
 * read is waiting, so a truncated stream cannot leave the extraction hanging.
 */
export class TarEntryQueue {
  readonly #entries: ReadEntry[] = [];
  #closed = false;
  #failure: unknown;
  #failed = false;
  #wake: (() => void) | undefined;
  readonly #failedSignal: Promise<never>;
  #rejectFailed!: (error: unknown) => void;

  constructor() {
    this.#failedSignal = new Promise<never>((_resolve, reject) => {
      this.#rejectFailed = reject;
    });
    // Observed only through races; a failure nobody waits for must not be "unhandled".
    this.#failedSignal.catch(() => {});
  }

  push(entry: ReadEntry): void {
    if (this.#failed) {
      entry.resume();
      return;
    }
    this.#entries.push(entry);
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    this.#notify();
  }

  /** Records the first failure; later ones are consequences of it. */
  fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#failure = error;
    this.#rejectFailed(error);
    this.#notify();
  }

  async next(): Promise<ReadEntry | undefined> {
    for (;;) {
      if (this.#failed) throw this.#failure;
      const entry = this.#entries.shift();
      if (entry) return entry;
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** An entry's contents, ending early with the failure if the stream fails meanwhile. */
  async *body(entry: ReadEntry): AsyncGenerator<Buffer> {
    const chunks = entry[Symbol.asyncIterator]();
    for (;;) {
      const result = await Promise.race([chunks.next(), this.#failedSignal]);
      if (result.done) return;
      yield result.value;
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
