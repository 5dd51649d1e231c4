// Helpers for change-stream tests: a running stream over a test store, and bounded waits.
import { after } from 'node:test';
import { ChangeStream, WatcherHub, type ChangeStreamOptions } from '../../src/changes/index.js';
import { silentLogger } from '../../src/logging/index.js';
import type { Store } from '../../src/store/index.js';
import { compiledDefaults } from './compiled-defaults.js';

/** A stream and hub over the store, stopped when the test ends. Not started unless asked. */
export function streamFor(
  store: Store,
  options: Partial<ChangeStreamOptions> = {},
): { stream: ChangeStream; hub: WatcherHub } {
  const hub = options.hub ?? new WatcherHub();
  const stream = new ChangeStream({
    store,
    hub,
    logger: silentLogger(),
    ...compiledDefaults.changeStream,
    ...options,
  });
  after(() => stream.stop());
  return { stream, hub };
}

/**
 * Reads an async iterator with time limits. A read that timed out stays pending and is the
 * one the next call awaits, so checking that nothing arrived never swallows a later value.
 */
export class TimedReader<T> {
  readonly #iterator: AsyncIterator<T>;
  #pending: Promise<IteratorResult<T>> | undefined;

  constructor(iterator: AsyncIterator<T>) {
    this.#iterator = iterator;
  }

  #read(): Promise<IteratorResult<T>> {
    this.#pending ??= this.#iterator.next();
    return this.#pending;
  }

  /** The next value, or a rejection naming what was awaited after `ms`. */
  async next(ms: number, what = 'the next event'): Promise<IteratorResult<T>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
        ms,
      );
    });
    try {
      const result = await Promise.race([this.#read(), timeout]);
      this.#pending = undefined; // consumed
      return result;
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('timed out')))
        this.#pending = undefined;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next value's `value`, failing the test when the iterator ended. */
  async value(ms: number, what?: string): Promise<T> {
    const result = await this.next(ms, what);
    if (result.done) throw new Error(`the iterator ended while waiting for ${what ?? 'a value'}`);
    return result.value;
  }

  /** True when nothing arrives within `ms`; the read stays pending for the next call. */
  async quiet(ms: number): Promise<boolean> {
    const quiet = Symbol('quiet');
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.#read(),
      new Promise<typeof quiet>((resolve) => (timer = setTimeout(() => resolve(quiet), ms))),
    ]);
    clearTimeout(timer);
    if (result !== quiet) this.#pending = undefined; // consumed: something arrived
    return result === quiet;
  }
}

const readers = new WeakMap<object, TimedReader<unknown>>();

function readerOf<T>(iterator: AsyncIterator<T>): TimedReader<T> {
  let reader = readers.get(iterator);
  if (!reader) {
    reader = new TimedReader<unknown>(iterator);
    readers.set(iterator, reader);
  }
  return reader as TimedReader<T>;
}

/** The iterator's next value within `ms` (sharing a read left pending by `staysQuiet`). */
export function nextWithin<T>(
  iterator: AsyncIterator<T>,
  ms: number,
  what?: string,
): Promise<IteratorResult<T>> {
  return readerOf(iterator).next(ms, what);
}

/** True when the iterator yields nothing within `ms`; the read stays pending for `nextWithin`. */
export function staysQuiet<T>(iterator: AsyncIterator<T>, ms: number): Promise<boolean> {
  return readerOf(iterator).quiet(ms);
}

/** The iterator's next value within `ms`; fails when it ends instead. */
export function valueWithin<T>(iterator: AsyncIterator<T>, ms: number, what?: string): Promise<T> {
  return readerOf(iterator).value(ms, what);
}
