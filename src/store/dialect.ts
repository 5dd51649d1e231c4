import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { WatchedTable } from './watched-tables.js';

/** The SQL databases the store runs on. Everything outside `dialect/` is dialect-agnostic. */
export const DialectNames = ['sqlite', 'postgres'] as const;
export type DialectName = (typeof DialectNames)[number];

/** Where a transaction was when it failed; some failures are only safe to retry at BEGIN. */
export type TransactionPhase = 'begin' | 'work' | 'commit';

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/** One change_log row as a reader sees it. */
export interface RawChange {
  readonly id: number;
  readonly editType: number;
  readonly namespaceId: number;
  readonly changed: string;
}

/** One read from the change log. `more` says another read would return rows at once. */
export interface ChangeLogRead {
  readonly changes: readonly RawChange[];
  readonly more: boolean;
}

/**
 * A stateful cursor over the change log, owned by one change stream. It starts at the head:
 * it returns only changes committed after it was opened.
 */
export interface ChangeLogReader {
  read(limit: number): Promise<ChangeLogRead>;
  /** Makes the next read compute its position afresh instead of from a cache (before pruning). */
  refresh(): void;
  /** The position to record in the witness table; rows below `lower` may be pruned. */
  bounds(): { readonly lower: string; readonly upper: string };
}

/** The dialect-specific half of the change log. */
export interface ChangeLogDialect {
  openReader(): Promise<ChangeLogReader>;
  /** Deletes the rows that every reader whose lower bound is given has passed. */
  prune(db: Kysely<Database>, lowerBounds: readonly string[]): Promise<number>;
  /** Calls the listener when a commit may have added rows (in-process or from elsewhere). */
  onWake(listener: () => void): () => void;
}

/** A SQL statement that a migration applies, compiled for one dialect. */
export interface MigrationStatement {
  readonly sql: string;
}

/** Everything the store needs that differs between SQLite and PostgreSQL. */
export interface StoreDialect {
  readonly name: DialectName;
  readonly db: Kysely<Database>;
  /** The statement that opens a transaction with the wanted isolation. */
  beginStatement(isolation: IsolationLevel | undefined): string;
  /** Whether the whole transaction may be run again after this error at this phase. */
  isRetryable(error: unknown, phase: TransactionPhase): boolean;
  /** Called after every successful commit of a transaction. */
  committed(): void;
  /** DDL for the change-log tables and any helper functions. */
  changeLogInfrastructure(): readonly MigrationStatement[];
  /** DDL that (re)creates the change-log triggers of the watched tables. */
  changeLogTriggers(
    db: Kysely<Database>,
    tables: readonly WatchedTable[],
  ): Promise<readonly MigrationStatement[]>;
  /** A hash of the live schema (tables, columns, indexes, triggers, functions). */
  schemaFingerprint(db: Kysely<Database>): Promise<string>;
  /** Serialises migrations between controllers; called inside the migration transaction. */
  lockForMigration(db: Kysely<Database>): Promise<void>;
  readonly changeLog: ChangeLogDialect;
  destroy(): Promise<void>;
}
