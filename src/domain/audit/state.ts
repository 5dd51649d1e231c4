import type { Selectable } from 'kysely';
import type { AuditLogTable, Store } from '../../store/index.js';

/** A row of audit_log in the service's terms (the field names of AuditEntry). */
interface AuditRow {
  readonly id: string;
  readonly at: string;
  readonly actorId: string | null;
  readonly actorName: string | null;
  readonly tokenId: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: 'success' | 'failure';
  readonly status: number;
  readonly requestId: string | null;
  readonly detail: string | null;
}

function toEntry(row: Selectable<AuditLogTable>): AuditRow {
  return {
    id: row.id,
    at: row.at,
    actorId: row.actor_id,
    actorName: row.actor_name,
    tokenId: row.token_id,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    status: Number(row.status),
    requestId: row.request_id,
    detail: row.detail,
  };
}

/** The SQL of the audit log (dialect-agnostic Kysely). */
export class AuditStateSql {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async insert(entry: AuditRow): Promise<void> {
    await this.#store.transact((tx) =>
      tx
        .insertInto('audit_log')
        .values({
          id: entry.id,
          at: entry.at,
          actor_id: entry.actorId,
          actor_name: entry.actorName,
          token_id: entry.tokenId,
          action: entry.action,
          target: entry.target,
          outcome: entry.outcome,
          status: entry.status,
          request_id: entry.requestId,
          detail: entry.detail,
        })
        .execute(),
    );
  }

  async count(): Promise<number> {
    const row = await this.#store.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    // PostgreSQL returns count(*) as a bigint string.
    return Number(row.n);
  }

  /** Newest first; ties in `at` (same millisecond) are ordered by id so pages do not overlap. */
  async page(start: number, count: number): Promise<AuditRow[]> {
    const rows = await this.#store.db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(count)
      .offset(start)
      .execute();
    return rows.map(toEntry);
  }
}
