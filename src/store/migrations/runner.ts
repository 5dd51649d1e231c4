import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { MigrationStatement, StoreDialect } from '../dialect.js';
import type { Database } from '../schema.js';
import type { TransactionRunner } from '../transaction.js';
import type { WatchedTable } from '../watched-tables.js';
import type { Migration } from './migration.js';

/** The store was migrated by a newer Berth than this one. */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';
  readonly code = 'STORE_SCHEMA_TOO_NEW';
}

/** The store's schema is not what its migrations made: a migration or the live schema changed. */
export class SchemaAlteredError extends Error {
  override readonly name = 'SchemaAlteredError';
  readonly code = 'STORE_SCHEMA_ALTERED';
}

export interface MigrationOutcome {
  /** The schema version the store is at now. */
  readonly version: number;
  /** Versions applied by this call, in order. */
  readonly applied: readonly number[];
}

function checksum(statements: readonly MigrationStatement[]): string {
  const hash = createHash('sha256');
  for (const s of statements) hash.update(s.sql.replace(/\s+/g, ' ').trim()).update('\n');
  return hash.digest('hex');
}

async function ensureBookkeeping(db: Kysely<Database>): Promise<void> {
  await db.schema
    .createTable('berth_schema_migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('checksum', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('berth_schema_state')
    .ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

async function execute(db: Kysely<Database>, statements: readonly MigrationStatement[]) {
  for (const statement of statements) await sql.raw(statement.sql).execute(db);
}

/**
 * Brings the store to the newest schema this build knows, in one transaction under a lock, so
 * that controllers starting together migrate once. Refuses, before changing anything, a store
 * that a newer Berth migrated or whose schema was altered by hand.
 */
export async function migrateStore(options: {
  readonly dialect: StoreDialect;
  readonly runner: TransactionRunner;
  readonly migrations: readonly Migration[];
  readonly watchedTables: readonly WatchedTable[];
}): Promise<MigrationOutcome> {
  const { dialect, runner, migrations, watchedTables } = options;
  const context = {
    dialect: dialect.name,
    schema: dialect.db.schema,
    changeLogInfrastructure: () => dialect.changeLogInfrastructure(),
  };
  const known = migrations.map((m) => ({ migration: m, statements: m.statements(context) }));
  const newest = known.at(-1)?.migration.version ?? 0;

  return runner.run(async (tx) => {
    await dialect.lockForMigration(tx);
    await ensureBookkeeping(tx);
    const applied = await tx
      .selectFrom('berth_schema_migrations')
      .selectAll()
      .orderBy('version')
      .execute();

    const tooNew = applied.filter((row) => row.version > newest);
    if (tooNew.length > 0) {
      throw new SchemaTooNewError(
        `the store is at schema version ${Math.max(...tooNew.map((r) => r.version))}, newer than ` +
          `this Berth knows (${newest}); run a Berth at least as new as the one that migrated it`,
      );
    }
    for (const [index, row] of applied.entries()) {
      const expected = known[index];
      if (!expected || expected.migration.version !== row.version) {
        throw new SchemaAlteredError(
          `the store's migration history has version ${row.version} where version ` +
            `${expected?.migration.version ?? '(none)'} was expected; the store was altered`,
        );
      }
      if (checksum(expected.statements) !== row.checksum) {
        throw new SchemaAlteredError(
          `migration ${row.version} (${row.name}) applied to this store differs from this ` +
            `Berth's; the store or the migration was altered`,
        );
      }
    }

    const state = await tx.selectFrom('berth_schema_state').selectAll().executeTakeFirst();
    if (state && (await dialect.schemaFingerprint(tx)) !== state.fingerprint) {
      throw new SchemaAlteredError(
        `the store's schema (tables, columns, indexes or triggers) was changed outside Berth's ` +
          `migrations; restore it from a backup or undo the change`,
      );
    }

    const pending = known.slice(applied.length);
    if (pending.length === 0 && state) return { version: newest, applied: [] };

    const now = new Date().toISOString();
    for (const { migration, statements } of pending) {
      await execute(tx, statements);
      await tx
        .insertInto('berth_schema_migrations')
        .values({
          version: migration.version,
          name: migration.name,
          checksum: checksum(statements),
          applied_at: now,
        })
        .execute();
    }
    for (const t of watchedTables) {
      await tx
        .insertInto('change_log_namespace')
        .values({ id: t.namespaceId, namespace: t.namespace, description: t.description })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({ namespace: t.namespace, description: t.description }),
        )
        .execute();
    }
    await execute(tx, await dialect.changeLogTriggers(tx, watchedTables));
    const fingerprint = await dialect.schemaFingerprint(tx);
    await tx
      .insertInto('berth_schema_state')
      .values({ id: 1, fingerprint, updated_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ fingerprint, updated_at: now }))
      .execute();
    return { version: newest, applied: pending.map((p) => p.migration.version) };
  });
}
