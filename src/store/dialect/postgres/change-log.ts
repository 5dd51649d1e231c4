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

async function currentXmin(db: Kysely<Database>): Promise<bigint> {
  const result = await sql<{ xmin: string }>`
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin
  `.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error('pg_current_snapshot() returned no row');
  return BigInt(row.xmin);
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
    const pass = this.#pass ?? { afterId: 0, xmin: await currentXmin(this.#db) };
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
      const reader = new PostgresChangeLogReader(db, await currentXmin(db));
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
