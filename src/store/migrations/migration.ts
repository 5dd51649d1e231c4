import type { Compilable, Kysely } from 'kysely';
import type { DialectName, MigrationStatement } from '../dialect.js';

/** What a migration may use to describe its statements. */
export interface MigrationContext {
  readonly dialect: DialectName;
  /**
   * Only to build and compile schema statements, never to execute them: the runner executes
   * the compiled SQL and checksums it. Typed `any` because the schema a migration sees is the
   * one of its own moment, not today's `Database`.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly schema: Kysely<any>['schema'];
  /** The dialect's change-log tables, functions and triggers' helpers. */
  readonly changeLogInfrastructure: () => readonly MigrationStatement[];
}

/**
 * One step of the store's schema. Its statements are compiled SQL, so the checksum the runner
 * records is the same whether Berth runs from source or from `dist/`. A landed migration is
 * never edited: a change is a new migration.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  statements(context: MigrationContext): readonly MigrationStatement[];
}

/** Compiles a schema builder into a statement for a migration. */
export function compiled(builder: Compilable): MigrationStatement {
  return { sql: builder.compile().sql };
}
