import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type {
  ChangeLogDialect,
  ChangeLogReader,
  IsolationLevel,
  MigrationStatement,
  RawChange,
  StoreDialect,
  TransactionPhase,
} from '../../dialect.js';
import type { Database } from '../../schema.js';
import type { WatchedTable } from '../../watched-tables.js';
import { WakeSignal } from '../../wake-signal.js';
import { WakeOnWritePlugin } from './wake-on-write-plugin.js';
import { withStatementCache } from './statement-cache.js';

export interface SqliteDialectOptions {
  readonly file: string;
  /**
   * How long SQLite itself waits for a lock. better-sqlite3 waits synchronously, blocking the
   * event loop, so this stays short and the transaction runner's async backoff does the rest.
   */
  readonly busyTimeoutMs: number;
}

/** Error codes after which SQLite rolled back and a fresh attempt can succeed. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}

export function openSqliteDialect(options: SqliteDialectOptions): StoreDialect {
  const database = new BetterSqlite3(options.file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  const wake = new WakeSignal();
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
    plugins: [new WakeOnWritePlugin(() => wake.fire())],
  });

  return {
    name: 'sqlite',
    db,
    beginStatement(_isolation: IsolationLevel | undefined) {
      // SQLite transactions are serializable; IMMEDIATE takes the write lock at BEGIN so a
      // read-then-write transaction cannot fail half-way with SQLITE_BUSY_SNAPSHOT.
      return 'BEGIN IMMEDIATE';
    },
    isRetryable(error: unknown, _phase: TransactionPhase) {
      return isBusy(error);
    },
    committed() {
      wake.fire();
    },
    changeLogInfrastructure,
    changeLogTriggers,
    schemaFingerprint,
    async lockForMigration() {
      // BEGIN IMMEDIATE already holds the database's only write lock.
    },
    changeLog: sqliteChangeLog(db, wake),
    async destroy() {
      await db.destroy();
    },
  };
}

function changeLogInfrastructure(): readonly MigrationStatement[] {
  return [
    `CREATE TABLE change_log_edit_type (
       id INTEGER PRIMARY KEY,
       edit_type TEXT NOT NULL UNIQUE)`,
    `INSERT INTO change_log_edit_type (id, edit_type) VALUES (1, 'create'), (2, 'update'), (4, 'delete')`,
    `CREATE TABLE change_log_namespace (
       id INTEGER PRIMARY KEY,
       namespace TEXT NOT NULL UNIQUE,
       description TEXT NOT NULL)`,
    // AUTOINCREMENT: ids are never reused after pruning, so a reader's cursor never goes stale.
    `CREATE TABLE change_log (
       id INTEGER PRIMARY KEY AUTOINCREMENT,
       edit_type_id INTEGER NOT NULL REFERENCES change_log_edit_type (id),
       namespace_id INTEGER NOT NULL REFERENCES change_log_namespace (id),
       changed TEXT NOT NULL,
       created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`,
    `CREATE TABLE change_log_witness (
       reader_id TEXT PRIMARY KEY,
       lower_bound TEXT NOT NULL,
       upper_bound TEXT NOT NULL,
       updated_at TEXT NOT NULL)`,
  ].map((text) => ({ sql: text }));
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function changeLogTriggers(
  db: Kysely<Database>,
  tables: readonly WatchedTable[],
): Promise<readonly MigrationStatement[]> {
  const statements: string[] = [];
  const existing = await sql<{ name: string }>`
    SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'change_log_%'
  `.execute(db);
  for (const { name } of existing.rows) statements.push(`DROP TRIGGER ${quoteIdentifier(name)}`);

  for (const t of tables) {
    const columns = await sql<{ name: string }>`
      SELECT name FROM pragma_table_info(${t.table})
    `.execute(db);
    if (columns.rows.length === 0) throw new Error(`watched table '${t.table}' does not exist`);
    const table = quoteIdentifier(t.table);
    const key = quoteIdentifier(t.keyColumn);
    const insertLog = (editType: number, row: 'NEW' | 'OLD') =>
      `INSERT INTO change_log (edit_type_id, namespace_id, changed) VALUES (${editType}, ${t.namespaceId}, ${row}.${key});`;
    // An UPDATE logs only when some column really changed; IS NOT compares NULLs as values.
    const changed = columns.rows
      .map((c) => `NEW.${quoteIdentifier(c.name)} IS NOT OLD.${quoteIdentifier(c.name)}`)
      .join(' OR ');
    statements.push(
      `CREATE TRIGGER ${quoteIdentifier(`change_log_${t.table}_insert`)} AFTER INSERT ON ${table} FOR EACH ROW BEGIN ${insertLog(1, 'NEW')} END`,
      `CREATE TRIGGER ${quoteIdentifier(`change_log_${t.table}_update`)} AFTER UPDATE ON ${table} FOR EACH ROW WHEN ${changed} BEGIN ${insertLog(2, 'NEW')} END`,
      `CREATE TRIGGER ${quoteIdentifier(`change_log_${t.table}_delete`)} AFTER DELETE ON ${table} FOR EACH ROW BEGIN ${insertLog(4, 'OLD')} END`,
    );
  }
  return statements.map((text) => ({ sql: text }));
}

async function schemaFingerprint(db: Kysely<Database>): Promise<string> {
  const objects = await sql<{ type: string; name: string; tbl_name: string; sql: string | null }>`
    SELECT type, name, tbl_name, sql FROM sqlite_master
    WHERE name NOT LIKE 'sqlite_%'
    ORDER BY type, name
  `.execute(db);
  return createHash('sha256').update(JSON.stringify(objects.rows)).digest('hex');
}

function sqliteChangeLog(db: Kysely<Database>, wake: WakeSignal): ChangeLogDialect {
  return {
    async openReader(): Promise<ChangeLogReader> {
      // One writer at a time and AUTOINCREMENT ids: rows become visible in id order, so the
      // last id read is a complete cursor.
      const head = await db
        .selectFrom('change_log')
        .select((eb) => eb.fn.max('id').as('max'))
        .executeTakeFirst();
      let lastId = Number(head?.max ?? 0);
      return {
        async read(limit: number) {
          const rows = await db
            .selectFrom('change_log')
            .select(['id', 'edit_type_id', 'namespace_id', 'changed'])
            .where('id', '>', lastId)
            .orderBy('id')
            .limit(limit)
            .execute();
          const changes: RawChange[] = rows.map((r) => ({
            id: r.id,
            editType: r.edit_type_id,
            namespaceId: r.namespace_id,
            changed: String(r.changed),
          }));
          const last = changes.at(-1);
          if (last) lastId = last.id;
          return { changes, more: rows.length === limit };
        },
        refresh() {
          // The last id read is always exact: nothing is cached.
        },
        bounds() {
          return { lower: String(lastId), upper: String(lastId) };
        },
      };
    },
    async prune(target: Kysely<Database>, lowerBounds: readonly string[]) {
      if (lowerBounds.length === 0) return 0;
      const below = Math.min(...lowerBounds.map(Number));
      const result = await target
        .deleteFrom('change_log')
        .where('id', '<=', below)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    onWake(listener: () => void) {
      return wake.listen(listener);
    },
  };
}
