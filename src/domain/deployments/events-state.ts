import type { Kysely, Selectable } from 'kysely';
import type { Database, DeploymentEventTable } from '../../store/index.js';
import {
  payloadOf,
  type DeploymentEvent,
  type NewDeploymentEvent,
  type TrimResult,
} from './events.js';

/** Rows per INSERT: six parameters each stays far below SQLite's and PostgreSQL's limits. */
const INSERT_CHUNK = 500;
/** Rows read per query while looking for where to trim. */
const TRIM_SCAN = 1000;

function toEvent(row: Selectable<DeploymentEventTable>): DeploymentEvent {
  return {
    ...(JSON.parse(row.payload) as object),
    // PostgreSQL returns BIGINT as a string.
    id: Number(row.id),
    at: row.at,
    step: row.step,
    kind: row.kind,
  } as DeploymentEvent;
}

/** Appends events in order; returns the bytes their payloads take. */
export async function insertEvents(
  tx: Kysely<Database>,
  deploymentId: string,
  events: readonly NewDeploymentEvent[],
): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    const rows = events.slice(i, i + INSERT_CHUNK).map((event) => {
      const payload = JSON.stringify(payloadOf(event));
      const size = Buffer.byteLength(payload);
      bytes += size;
      return {
        deployment_id: deploymentId,
        step: event.step,
        at: event.at,
        kind: event.kind,
        payload,
        bytes: size,
      };
    });
    await tx.insertInto('deployment_events').values(rows).execute();
  }
  return bytes;
}

/** Up to `limit` events with an id above `after`, oldest first. */
export async function readEvents(
  db: Kysely<Database>,
  deploymentId: string,
  after: number,
  limit: number,
): Promise<DeploymentEvent[]> {
  const rows = await db
    .selectFrom('deployment_events')
    .selectAll()
    .where('deployment_id', '=', deploymentId)
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toEvent);
}

/** The newest `count` events, oldest first. */
export async function lastEvents(
  db: Kysely<Database>,
  deploymentId: string,
  count: number,
): Promise<DeploymentEvent[]> {
  const rows = await db
    .selectFrom('deployment_events')
    .selectAll()
    .where('deployment_id', '=', deploymentId)
    .orderBy('id', 'desc')
    .limit(count)
    .execute();
  return rows.reverse().map(toEvent);
}

/**
 * Drops the oldest lines until at least `dropBytes` are freed. The last dropped line becomes
 * a `trimmed` marker in place (same id), so a follower whose cursor is before it reads the
 * marker before the lines that remain; an earlier marker is folded into it, its counts added.
 * Step and finished events are never dropped.
 */
export async function trimEvents(
  tx: Kysely<Database>,
  deploymentId: string,
  dropBytes: number,
): Promise<TrimResult> {
  let freed = 0;
  let lines = 0;
  let bytes = 0;
  let cut: { id: number; at: string; step: string | null } | undefined;
  let cursor = 0;
  scan: while (freed < dropBytes) {
    const rows = await tx
      .selectFrom('deployment_events')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .where('kind', 'in', ['line', 'trimmed'])
      .where('id', '>', cursor)
      .orderBy('id')
      .limit(TRIM_SCAN)
      .execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      if (freed >= dropBytes) break scan;
      const event = toEvent(row);
      cursor = event.id;
      cut = { id: event.id, at: event.at, step: event.step };
      freed += row.bytes;
      if (event.kind === 'trimmed') {
        lines += event.lines;
        bytes += event.bytes;
      } else {
        lines += 1;
        bytes += row.bytes;
      }
    }
  }
  if (!cut) return { freedBytes: 0, markerBytes: 0, lines: 0 };
  await tx
    .deleteFrom('deployment_events')
    .where('deployment_id', '=', deploymentId)
    .where('kind', 'in', ['line', 'trimmed'])
    .where('id', '<', cut.id)
    .execute();
  const payload = JSON.stringify(
    payloadOf({ kind: 'trimmed', lines, bytes, step: cut.step, at: cut.at }),
  );
  const markerBytes = Buffer.byteLength(payload);
  await tx
    .updateTable('deployment_events')
    .set({ kind: 'trimmed', payload, bytes: markerBytes })
    .where('id', '=', cut.id)
    .execute();
  return { freedBytes: freed, markerBytes, lines };
}
