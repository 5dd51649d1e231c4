import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { IsolationLevel, StoreDialect, TransactionPhase } from './dialect.js';
import type { Database } from './schema.js';

/** How hard the runner tries before giving up on a transaction that keeps conflicting. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  /** No new attempt starts once this much time has passed since the first. */
  readonly maxElapsedMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 10,
  maxElapsedMs: 15_000,
  baseDelayMs: 5,
  maxDelayMs: 1_000,
});

export interface TransactOptions {
  /** PostgreSQL isolation; SQLite is always serializable. Default: read committed. */
  readonly isolation?: IsolationLevel;
  readonly signal?: AbortSignal;
  /** Called before each retry, for logs and tests. */
  readonly onRetry?: (info: { attempt: number; error: unknown; delayMs: number }) => void;
}

/** A transaction failed with retryable errors until the retry policy ran out. */
export class TransactionRetriesExhaustedError extends Error {
  override readonly name = 'TransactionRetriesExhaustedError';
  readonly code = 'STORE_RETRIES_EXHAUSTED';
  readonly attempts: number;

  constructor(attempts: number, elapsedMs: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `transaction gave up after ${attempts} attempts in ${Math.round(elapsedMs)} ms: ${reason}`,
      { cause },
    );
    this.attempts = attempts;
  }
}

/** A transaction was started inside another on the same async path, which would deadlock. */
export class NestedTransactionError extends Error {
  override readonly name = 'NestedTransactionError';
  readonly code = 'STORE_NESTED_TRANSACTION';
  constructor() {
    super('a transaction was started inside another transaction; pass the outer one down instead');
  }
}

/** The work of one transaction: it may run several times, so it must not act outside the store. */
export type TransactionWork<T> = (tx: Kysely<Database>) => Promise<T>;

/**
 * Runs closures in transactions and runs the whole closure again, with jittered exponential
 * backoff, when the database reports a conflict it resolved by rolling back (SQLite busy or
 * locked, PostgreSQL serialization failure, deadlock, lock timeout, or a connection lost at
 * BEGIN). Constraint violations and every other error go straight to the caller.
 */
export class TransactionRunner {
  readonly #dialect: StoreDialect;
  readonly #policy: RetryPolicy;
  readonly #inTransaction = new AsyncLocalStorage<true>();

  constructor(dialect: StoreDialect, policy: RetryPolicy) {
    this.#dialect = dialect;
    this.#policy = policy;
  }

  async run<T>(work: TransactionWork<T>, options: TransactOptions = {}): Promise<T> {
    if (this.#inTransaction.getStore()) throw new NestedTransactionError();
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      let phase: TransactionPhase = 'begin';
      try {
        const result = await this.#dialect.db.connection().execute(async (conn) => {
          await sql.raw(this.#dialect.beginStatement(options.isolation)).execute(conn);
          phase = 'work';
          try {
            const value = await this.#inTransaction.run(true, () => work(conn));
            phase = 'commit';
            await sql.raw('COMMIT').execute(conn);
            return value;
          } catch (error) {
            await sql
              .raw('ROLLBACK')
              .execute(conn)
              .catch(() => undefined);
            throw error;
          }
        });
        this.#dialect.committed();
        return result;
      } catch (error) {
        if (!this.#dialect.isRetryable(error, phase)) throw error;
        const elapsed = performance.now() - started;
        const delayMs = this.#backoff(attempt);
        if (attempt >= this.#policy.maxAttempts || elapsed + delayMs > this.#policy.maxElapsedMs) {
          throw new TransactionRetriesExhaustedError(attempt, elapsed, error);
        }
        options.onRetry?.({ attempt, error, delayMs });
        await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
      }
    }
  }

  /** Full jitter: a random delay up to an exponentially growing cap. */
  #backoff(attempt: number): number {
    const cap = Math.min(this.#policy.maxDelayMs, this.#policy.baseDelayMs * 2 ** (attempt - 1));
    return Math.max(1, Math.random() * cap);
  }
}
