import type { LogLine, LogQuery } from '../driver.js';
import { followLogLines } from './log-reader.js';

/**
 * The log follows a driver has open, so that destroy() can end them all: each follow ends on
 * the caller's signal or on endAll(), whichever comes first.
 */
export class LogFollows {
  readonly #open = new Set<AbortController>();

  /** Follows the app's log files in `dir` (see followLogLines) until `signal` or endAll(). */
  async follow(
    dir: string,
    query: LogQuery,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const follow = new AbortController();
    const forward = () => follow.abort();
    signal.addEventListener('abort', forward, { once: true });
    if (signal.aborted) follow.abort();
    this.#open.add(follow);
    try {
      await followLogLines(dir, query, onLine, follow.signal);
    } finally {
      signal.removeEventListener('abort', forward);
      this.#open.delete(follow);
    }
  }

  endAll(): void {
    for (const follow of this.#open) follow.abort();
  }
}
