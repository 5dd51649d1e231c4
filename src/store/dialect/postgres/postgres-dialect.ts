import { createHash } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type {
  IsolationLevel,
  MigrationStatement,
  StoreDialect,
  TransactionPhase,
} from '../../dialect.js';
import type { Database } from '../../schema.js';
import type { WatchedTable } from '../../watched-tables.js';
import { WakeSignal } from '../../wake-signal.js';
import { postgresChangeLog } from './change-log.js';
import { ChangeNotificationListener } from './notification-listener.js';

export interface PostgresDialectOptions {
  readonly connectionString: string;
  readonly poolSize: number;
  /** Called when the LISTEN connection fails; the stream falls back to polling meanwhile. */
  readonly onListenerError: (error: Error) => void;
}

/** The channel the change-log trigger notifies; a wake-up only, it carries no data. */
export const CHANGE_CHANNEL = 'berth_change_log';

/** SQLSTATEs after which PostgreSQL rolled back and the whole transaction may run again. */
const RETRYABLE_STATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);

/** Failures of the connection itself; safe to retry only before any statement ran. */
const CONNECTION_STATES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
]);
const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (CONNECTION_STATES.has(code) || CONNECTION_CODES.has(code))) {
    return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error/i.test(
    message,
  );
}

/** int8 comes back from pg as a string; the store's ids and counts fit in a number. */
const INT8_OID = 20;
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID) return (value: string) => Number(value);
    // pg's own parser for every other type; its typings return `any`.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export function openPostgresDialect(options: PostgresDialectOptions): StoreDialect {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    types: typeParsers,
  });
  // An idle pooled client whose server went away emits 'error'; the pool drops it, and the
  // next checkout opens a fresh one. Without a listener Node would crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const wake = new WakeSignal();
  const listener = new ChangeNotificationListener({
    connectionString: options.connectionString,
    channel: CHANGE_CHANNEL,
    onNotify: () => wake.fire(),
    onError: options.onListenerError,
  });

  return {
    name: 'postgres',
    db,
    beginStatement(isolation: IsolationLevel | undefined) {
      return isolation ? `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}` : 'BEGIN';
    },
    isRetryable(error: unknown, phase: TransactionPhase) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && RETRYABLE_STATES.has(code)) return true;
      return phase === 'begin' && isConnectionLoss(error);
    },
    committed() {
      // The NOTIFY reaches other controllers; this controller need not wait for the echo.
      wake.fire();
    },
    changeLogInfrastructure,
    changeLogTriggers,
    schemaFingerprint,
    async lockForMigration(target: Kysely<Database>) {
      await sql`SELECT pg_advisory_xact_lock(hashtext('berth-schema-migrations'))`.execute(target);
    },
    changeLog: postgresChangeLog(db, wake, listener),
    async destroy() {
      await listener.stop();
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
    // txid: the writing transaction's id. Readers order completeness by it, not by id, because
    // ids are taken at INSERT while transactions commit in any order. No foreign keys: they
    // doubled the cost of every logged row, and only generated triggers write here.
    `CREATE TABLE change_log (
       id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       edit_type_id INTEGER NOT NULL CHECK (edit_type_id IN (1, 2, 4)),
       namespace_id INTEGER NOT NULL,
       changed TEXT NOT NULL,
       created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
       txid XID8 NOT NULL DEFAULT pg_current_xact_id())`,
    `CREATE INDEX change_log_txid ON change_log (txid)`,
    `CREATE TABLE change_log_witness (
       reader_id TEXT PRIMARY KEY,
       lower_bound TEXT NOT NULL,
       upper_bound TEXT NOT NULL,
       updated_at TEXT NOT NULL)`,
    // One generic statement-level trigger function for every watched table, reading the
    // statement's transition tables: one INSERT … SELECT per statement instead of one per row.
    // TG_ARGV = (namespace id, key column). An UPDATE logs only rows whose values changed
    // (matched on the key, which Berth never changes).
    `CREATE FUNCTION change_log_write() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         EXECUTE format(
           'INSERT INTO change_log (edit_type_id, namespace_id, changed)
            SELECT 1, %s, n.%I::text FROM change_log_new_rows n',
           TG_ARGV[0]::integer, TG_ARGV[1]);
       ELSIF TG_OP = 'UPDATE' THEN
         EXECUTE format(
           'INSERT INTO change_log (edit_type_id, namespace_id, changed)
            SELECT 2, %s, n.%I::text FROM change_log_new_rows n
            JOIN change_log_old_rows o ON o.%I = n.%I
            WHERE o IS DISTINCT FROM n',
           TG_ARGV[0]::integer, TG_ARGV[1], TG_ARGV[1], TG_ARGV[1]);
       ELSE
         EXECUTE format(
           'INSERT INTO change_log (edit_type_id, namespace_id, changed)
            SELECT 4, %s, o.%I::text FROM change_log_old_rows o',
           TG_ARGV[0]::integer, TG_ARGV[1]);
       END IF;
       RETURN NULL;
     END $$`,
    // A wake-up for listening controllers, once per statement; NOTIFY is delivered at commit
    // and identical notifications of one transaction fold into one.
    `CREATE FUNCTION change_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       PERFORM pg_notify('${CHANGE_CHANNEL}', '');
       RETURN NULL;
     END $$`,
    `CREATE TRIGGER change_log_notify AFTER INSERT ON change_log
       FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify()`,
  ].map((text) => ({ sql: text }));
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

async function changeLogTriggers(
  db: Kysely<Database>,
  tables: readonly WatchedTable[],
): Promise<readonly MigrationStatement[]> {
  const statements: string[] = [];
  const existing = await sql<{ trigger: string; table: string }>`
    SELECT t.tgname AS trigger, c.relname AS table
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND n.nspname = current_schema()
      AND t.tgname LIKE 'change_log\\_%' AND t.tgname <> 'change_log_notify'
  `.execute(db);
  for (const row of existing.rows) {
    statements.push(
      `DROP TRIGGER ${quoteIdentifier(row.trigger)} ON ${quoteIdentifier(row.table)}`,
    );
  }
  for (const t of tables) {
    const table = quoteIdentifier(t.table);
    const args = `${quoteLiteral(String(t.namespaceId))}, ${quoteLiteral(t.keyColumn)}`;
    const name = (op: string) => quoteIdentifier(`change_log_${t.table}_${op}`);
    const newRows = 'NEW TABLE AS change_log_new_rows';
    const oldRows = 'OLD TABLE AS change_log_old_rows';
    statements.push(
      `CREATE TRIGGER ${name('insert')} AFTER INSERT ON ${table} REFERENCING ${newRows} FOR EACH STATEMENT EXECUTE FUNCTION change_log_write(${args})`,
      `CREATE TRIGGER ${name('update')} AFTER UPDATE ON ${table} REFERENCING ${oldRows} ${newRows} FOR EACH STATEMENT EXECUTE FUNCTION change_log_write(${args})`,
      `CREATE TRIGGER ${name('delete')} AFTER DELETE ON ${table} REFERENCING ${oldRows} FOR EACH STATEMENT EXECUTE FUNCTION change_log_write(${args})`,
    );
  }
  return statements.map((text) => ({ sql: text }));
}

async function schemaFingerprint(db: Kysely<Database>): Promise<string> {
  const columns = await sql`
    SELECT table_name, column_name, data_type, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = current_schema()
    ORDER BY table_name, ordinal_position
  `.execute(db);
  const indexes = await sql`
    SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
    ORDER BY indexname
  `.execute(db);
  const triggers = await sql`
    SELECT t.tgname, pg_get_triggerdef(t.oid) AS definition
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND n.nspname = current_schema()
    ORDER BY t.tgname
  `.execute(db);
  const functions = await sql`
    SELECT p.proname, md5(p.prosrc) AS source
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = current_schema()
    ORDER BY p.proname
  `.execute(db);
  return createHash('sha256')
    .update(JSON.stringify([columns.rows, indexes.rows, triggers.rows, functions.rows]))
    .digest('hex');
}
