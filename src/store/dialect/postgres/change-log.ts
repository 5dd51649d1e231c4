import { sql, type Kysely } from 'kysely';
import type { ChangeLogDialect, ChangeLogReader, RawChange } from '../../dialect.js';
import type { Database } from '../../schema.js';
import type { WakeSignal } from '../../wake-signal.js';
import type { ChangeNotificationListener } from './notification-listener.js';

interface ChangeRow {
  id: number;
  edit_type_id: number;
  namespace_id: number;
  changed: string;
  txid: string;
}

/**
 * The oldest transaction that may still add rows to this database's change log: every
 * transaction below it has finished.
 *
 * `pg_snapshot_xmin` alone is cluster-wide: one long transaction in any other database of the
 * server would hold the floor down, so pruning would stop and every pass would re-read a
 * growing tail. Only transactions of this database can write here, so the floor is the oldest
 * in-progress transaction of the snapshot that belongs to a session (or prepared transaction)
 * of this database, else the snapshot's xmax. Only client sessions count: autovacuum's ANALYZE
 * holds an xid while it writes statistics but never writes the change log. Sessions are matched
 * on the low 32 bits of their xid, which is what pg_stat_activity shows. When this role cannot see every session of the
 * database (their xids are hidden from it), the cluster-wide xmin is the safe answer.
 */
async function databaseFloor(db: Kysely<Database>): Promise<bigint> {
  const result = await sql<{ floor: string }>`
    WITH snapshot AS (SELECT pg_current_snapshot() AS snap),
    sessions AS (
      SELECT backend_xid, query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND backend_type = 'client backend'
    ),
    writers AS (
      SELECT backend_xid::text::bigint AS xid FROM sessions WHERE backend_xid IS NOT NULL
      UNION ALL
      SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database = current_database()
    )
    SELECT (CASE
      WHEN EXISTS (SELECT 1 FROM sessions WHERE query = '<insufficient privilege>')
        THEN (SELECT pg_snapshot_xmin(snap) FROM snapshot)
      ELSE COALESCE(
        (SELECT min(running) FROM snapshot, pg_snapshot_xip(snap) AS running
          WHERE running::text::bigint % 4294967296 IN (SELECT xid FROM writers)),
        (SELECT pg_snapshot_xmax(snap) FROM snapshot))
    END)::text AS floor
  `.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('the change-log floor query returned no row');
  return BigInt(row.floor);
}

async function clusterXmin(db: Kysely<Database>): Promise<bigint> {
  const result = await sql<{ xmin: string }>`
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin
  `.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('pg_current_snapshot() returned no row');
  return BigInt(row.xmin);
}

/** How often, at most, the per-database floor (which reads pg_stat_activity) is recomputed. */
const DATABASE_FLOOR_INTERVAL_MS = 250;

/**
 * The floor for the next pass. A floor stays true once true (finished transactions stay
 * finished), so the cheap cluster-wide xmin is taken every pass and the per-database floor,
 * which reads pg_stat_activity, only every DATABASE_FLOOR_INTERVAL_MS; the higher one wins.
 */
class FloorTracker {
  #databaseFloor = 0n;
  #computedAt = 0;

  async next(db: Kysely<Database>): Promise<bigint> {
    const xmin = await clusterXmin(db);
    if (xmin > this.#databaseFloor && Date.now() - this.#computedAt < DATABASE_FLOOR_INTERVAL_MS) {
      return xmin;
    }
    if (Date.now() - this.#computedAt >= DATABASE_FLOOR_INTERVAL_MS) {
      this.#databaseFloor = await databaseFloor(db);
      this.#computedAt = Date.now();
    }
    return xmin > this.#databaseFloor ? xmin : this.#databaseFloor;
  }

  /** Forces the next call to recompute the per-database floor (for pruning and tests). */
  invalidate(): void {
    this.#computedAt = 0;
  }
}

/**
 * A change-log cursor that cannot skip rows committed out of id order.
 *
 * change_log ids are taken at INSERT time, but transactions commit in any order: a reader that
 * kept "the last id seen" would step over a lower id committed later. Instead the cursor keeps
 * a transaction-id floor: every transaction below the snapshot xmin has finished, so all of
 * its rows are visible and have been read. Rows of transactions at or above the floor are
 * read again on each pass and filtered by the ids already delivered; that set only holds rows
 * of the few transactions still near the floor.
 */
class PostgresChangeLogReader implements ChangeLogReader {
  readonly #db: Kysely<Database>;
  readonly #floors = new FloorTracker();
  #floor: bigint;
  /** Delivered rows whose transaction is at or above the floor: id → txid. */
  readonly #delivered = new Map<number, bigint>();
  /** While a pass spans several reads: the last id read and the xmin taken at its start. */
  #pass: { afterId: number; xmin: bigint } | undefined;

  constructor(db: Kysely<Database>, floor: bigint) {
    this.#db = db;
    this.#floor = floor;
  }

  /** Marks every row visible now as already seen, so the reader starts at the head. */
  async skipToHead(): Promise<void> {
    for (;;) {
      const { more } = await this.read(10_000);
      if (!more) return;
    }
  }

  async read(limit: number) {
    // The xmin must come from a snapshot taken before the rows are read: then every
    // transaction below it was already visible to the reads.
    const pass = this.#pass ?? { afterId: 0, xmin: await this.#floors.next(this.#db) };
    const result = await sql<ChangeRow>`
      SELECT id, edit_type_id, namespace_id, changed, txid::text AS txid
      FROM change_log
      WHERE txid >= ${this.#floor.toString()}::xid8 AND id > ${pass.afterId}
      ORDER BY id
      LIMIT ${limit}
    `.execute(this.#db);
    const changes: RawChange[] = [];
    for (const row of result.rows) {
      if (this.#delivered.has(row.id)) continue;
      this.#delivered.set(row.id, BigInt(row.txid));
      changes.push({
        id: row.id,
        editType: row.edit_type_id,
        namespaceId: row.namespace_id,
        changed: row.changed,
      });
    }
    const last = result.rows.at(-1);
    if (result.rows.length === limit && last) {
      this.#pass = { afterId: last.id, xmin: pass.xmin };
      return { changes, more: true };
    }
    this.#pass = undefined;
    if (pass.xmin > this.#floor) this.#floor = pass.xmin;
    for (const [id, txid] of this.#delivered) {
      if (txid < this.#floor) this.#delivered.delete(id);
    }
    return { changes, more: false };
  }

  refresh(): void {
    this.#floors.invalidate();
  }

  bounds() {
    let upper = 0;
    for (const id of this.#delivered.keys()) if (id > upper) upper = id;
    return { lower: this.#floor.toString(), upper: String(upper) };
  }
}

export function postgresChangeLog(
  db: Kysely<Database>,
  wake: WakeSignal,
  listener: ChangeNotificationListener,
): ChangeLogDialect {
  return {
    async openReader() {
      await listener.start();
      const reader = new PostgresChangeLogReader(db, await databaseFloor(db));
      await reader.skipToHead();
      return reader;
    },
    async prune(target: Kysely<Database>, lowerBounds: readonly string[]) {
      if (lowerBounds.length === 0) return 0;
      const floor = lowerBounds.map((b) => BigInt(b)).reduce((a, b) => (b < a ? b : a));
      const result = await sql`
        DELETE FROM change_log WHERE txid < ${floor.toString()}::xid8
      `.execute(target);
      return Number(result.numAffectedRows ?? 0n);
    },
    onWake(onWake: () => void) {
      return wake.listen(onWake);
    },
  };
}
