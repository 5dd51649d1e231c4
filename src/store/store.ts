import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { ChangeLogDialect, DialectName, StoreDialect } from './dialect.js';
import { openSqliteDialect } from './dialect/sqlite/index.js';
import { migrateStore, migrations as allMigrations, type Migration } from './migrations/index.js';
import type { Database } from './schema.js';
import {
  defaultRetryPolicy,
  TransactionRunner,
  type RetryPolicy,
  type TransactOptions,
  type TransactionWork,
} from './transaction.js';
import { watchedTables as allWatchedTables, type WatchedTable } from './watched-tables.js';

/** The file of the embedded store inside the data directory. */
export const SQLITE_FILE = 'berth.db';

export interface StoreOptions {
  /** Where the SQLite store lives when no database URL is given. */
  readonly dataDir: string;
  /** `postgres://…` selects PostgreSQL; undefined selects SQLite in the data dir. */
  readonly databaseUrl?: string | undefined;
  readonly retry?: RetryPolicy;
  readonly sqliteBusyTimeoutMs?: number;
  readonly postgresPoolSize?: number;
  /** Reports a lost LISTEN connection (PostgreSQL); the change stream polls meanwhile. */
  readonly onListenerError?: (error: Error) => void;
  /** For tests of the schema check: another migration list than this build's. */
  readonly migrations?: readonly Migration[];
  readonly watchedTables?: readonly WatchedTable[];
}

/** The controller's state: one SQL database, its schema, transactions and change log. */
export interface Store {
  readonly dialect: DialectName;
  /** For reads and single-statement writes; multi-statement work goes through `transact`. */
  readonly db: Kysely<Database>;
  /** Runs `work` in a transaction, retried whole on conflicts (see TransactionRunner). */
  transact<T>(work: TransactionWork<T>, options?: TransactOptions): Promise<T>;
  readonly changeLog: ChangeLogDialect;
  /** The schema version the store was at when opened. */
  readonly schemaVersion: number;
  close(): Promise<void>;
}

/**
 * The dialect the options name. PostgreSQL's (and the pg driver, some 14 MB resident) is
 * loaded only for a database URL: an embedded SQLite Berth never holds it.
 */
async function openDialect(options: StoreOptions): Promise<StoreDialect> {
  if (options.databaseUrl) {
    const { openPostgresDialect } = await import('./dialect/postgres/index.js');
    return openPostgresDialect({
      connectionString: options.databaseUrl,
      poolSize: options.postgresPoolSize ?? 10,
      onListenerError: options.onListenerError ?? (() => undefined),
    });
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  return openSqliteDialect({
    file: path.join(options.dataDir, SQLITE_FILE),
    busyTimeoutMs: options.sqliteBusyTimeoutMs ?? 50,
  });
}

/**
 * Opens the store, migrates it to this build's schema and checks it. Fails, leaving the store
 * as it was, when the schema is newer than this build or was altered.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const dialect = await openDialect(options);
  try {
    const runner = new TransactionRunner(dialect, options.retry ?? defaultRetryPolicy);
    const outcome = await migrateStore({
      dialect,
      runner,
      migrations: options.migrations ?? allMigrations,
      watchedTables: options.watchedTables ?? allWatchedTables,
    });
    let closed: Promise<void> | undefined;
    return {
      dialect: dialect.name,
      db: dialect.db,
      transact: (work, transactOptions) => runner.run(work, transactOptions),
      changeLog: dialect.changeLog,
      schemaVersion: outcome.version,
      close: () => (closed ??= dialect.destroy()),
    };
  } catch (error) {
    await dialect.destroy().catch(() => undefined);
    throw error;
  }
}
