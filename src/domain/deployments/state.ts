import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, DeploymentTable, Store } from '../../store/index.js';
import { logTextOf, type NewDeploymentEvent } from './events.js';
import { insertEvents, lastEvents, readEvents, trimEvents } from './events-state.js';
import type {
  Deployment,
  DeploymentKind,
  DeploymentOutcome,
  DeploymentProgress,
  DeploymentStatus,
} from './model.js';
import type { DeploymentsState } from './service.js';

/** A task record's `log` shows its last this-many characters; the events hold the rest. */
export const MAX_LOG_CHARS = 64 * 1024;

/** How many of the newest events the `log` text is made from (more than fit in MAX_LOG_CHARS). */
const LOG_TAIL_EVENTS = 4000;

/** Bundles are stored in pieces of this size, well under every driver's parameter limits. */
export const BUNDLE_CHUNK_BYTES = 1024 * 1024;

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toDeployment(row: Selectable<DeploymentTable>): Deployment {
  return {
    id: row.id,
    appId: row.app_id,
    kind: row.kind as DeploymentKind,
    status: row.status,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    source: { kind: row.source_kind, ref: row.source_ref, sha: row.source_sha },
    bundleBytes: row.bundle_bytes,
    options: { autoconfigure: false, ...parseJson<{ autoconfigure?: boolean }>(row.options) },
    currentStep: row.current_step,
    steps: parseJson(row.steps) ?? [],
    error: row.error,
    processErrors: parseJson(row.process_errors),
    projectMetadata: parseJson(row.project_metadata),
    stack: row.stack,
    releaseVersion: row.release_version,
    cancelRequested: row.cancel_requested === 1,
  };
}

function tailOf(text: string): string {
  return text.length > MAX_LOG_CHARS ? text.slice(text.length - MAX_LOG_CHARS) : text;
}

function progressColumns(progress: DeploymentProgress) {
  return {
    ...(progress.currentStep === undefined ? {} : { current_step: progress.currentStep }),
    ...(progress.steps === undefined ? {} : { steps: JSON.stringify(progress.steps) }),
    ...(progress.processErrors === undefined
      ? {}
      : { process_errors: JSON.stringify(progress.processErrors) }),
    ...(progress.projectMetadata === undefined
      ? {}
      : { project_metadata: JSON.stringify(progress.projectMetadata) }),
    ...(progress.stack === undefined ? {} : { stack: progress.stack }),
  };
}

/**
 * Whether `owner` holds the task's lease. A no-op UPDATE rather than a SELECT: on PostgreSQL
 * it locks the lease row until commit, so failExpired (which deletes it) cannot write its
 * events between this holder's check and commit, and event ids stay in commit order.
 */
async function holdsLease(tx: Kysely<Database>, id: string, owner: string): Promise<boolean> {
  const held = await tx
    .updateTable('deployment_leases')
    .set({ owner })
    .where('deployment_id', '=', id)
    .where('owner', '=', owner)
    .executeTakeFirst();
  return held.numUpdatedRows === 1n;
}

/** The deployments and deployment_leases tables, for the deployments service. */
export function deploymentsState(store: Store): DeploymentsState {
  const get = async (db: Kysely<Database>, id: string) => {
    const row = await db
      .selectFrom('deployments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toDeployment(row);
  };
  return {
    eventsNamespace: 'deployment_events',
    tasksNamespace: 'deployments',
    async insert(d, bundleFile) {
      await store.transact(async (tx) => {
        await tx
          .insertInto('deployments')
          .values({
            id: d.id,
            app_id: d.appId,
            kind: d.kind,
            status: d.status,
            created_at: d.createdAt,
            started_at: null,
            finished_at: null,
            source_kind: d.source.kind,
            source_ref: d.source.ref,
            source_sha: d.source.sha,
            bundle_bytes: d.bundleBytes,
            options: JSON.stringify(d.options),
            current_step: null,
            steps: JSON.stringify(d.steps),
            log: '',
            error: null,
            process_errors: null,
            project_metadata: null,
            stack: null,
            release_version: null,
            cancel_requested: 0,
          })
          .execute();
        if (bundleFile === undefined) return;
        // Read inside the closure: a retried transaction writes every chunk again.
        let seq = 0;
        for await (const chunk of createReadStream(bundleFile, {
          highWaterMark: BUNDLE_CHUNK_BYTES,
        })) {
          await tx
            .insertInto('bundle_chunks')
            .values({ deployment_id: d.id, seq: seq++, data: chunk as Buffer })
            .execute();
        }
      });
    },
    async readBundle(id, destinationFile) {
      const out = createWriteStream(destinationFile, { mode: 0o600 });
      try {
        for (let seq = 0; ; seq++) {
          const chunk = await store.db
            .selectFrom('bundle_chunks')
            .select('data')
            .where('deployment_id', '=', id)
            .where('seq', '=', seq)
            .executeTakeFirst();
          if (!chunk) break;
          if (!out.write(chunk.data)) await once(out, 'drain');
        }
      } finally {
        out.end();
        await once(out, 'close');
      }
    },
    get: (id) => get(store.db, id),
    async latestForApp(appId) {
      const row = await store.db
        .selectFrom('deployments')
        .selectAll()
        .where('app_id', '=', appId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && toDeployment(row);
    },
    async listForApp(appId) {
      const rows = await store.db
        .selectFrom('deployments')
        .selectAll()
        .where('app_id', '=', appId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map(toDeployment);
    },
    async latestPerApp({ ownerId, start, count }) {
      let latest = store.db
        .selectFrom('deployments as d')
        .innerJoin('apps as a', 'a.id', 'd.app_id')
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('deployments as n')
                .select(sql.lit(1).as('one'))
                .whereRef('n.app_id', '=', 'd.app_id')
                .where((eb) =>
                  eb.or([
                    eb('n.created_at', '>', eb.ref('d.created_at')),
                    eb.and([
                      eb('n.created_at', '=', eb.ref('d.created_at')),
                      eb('n.id', '>', eb.ref('d.id')),
                    ]),
                  ]),
                ),
            ),
          ),
        );
      if (ownerId !== undefined) latest = latest.where('a.owner_id', '=', ownerId);
      const total = await latest
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const rows =
        count === 0
          ? []
          : await latest
              .selectAll('d')
              // The name comes with the row: no lookup of each entry's app afterwards.
              .select('a.name as app_name')
              .orderBy('d.created_at', 'desc')
              .orderBy('d.id', 'desc')
              .limit(count)
              .offset(start)
              .execute();
      return {
        total: Number(total.n),
        entries: rows.map(({ app_name, ...row }) => ({
          appName: app_name,
          deployment: toDeployment(row),
        })),
      };
    },
    async queued(limit) {
      const rows = await store.db
        .selectFrom('deployments')
        .selectAll()
        .where('status', '=', 'queued')
        .orderBy('created_at')
        .limit(limit)
        .execute();
      return rows.map(toDeployment);
    },
    claim(id, owner, now, expiresAt, firstStep) {
      return store.transact(async (tx) => {
        const claimed = await tx
          .updateTable('deployments')
          .set({ status: 'running', started_at: now, current_step: firstStep })
          .where('id', '=', id)
          .where('status', '=', 'queued')
          .executeTakeFirst();
        if (claimed.numUpdatedRows !== 1n) return false;
        await tx
          .insertInto('deployment_leases')
          .values({ deployment_id: id, owner, expires_at: expiresAt })
          .execute();
        return true;
      });
    },
    heartbeat(id, owner, expiresAt) {
      return store.transact(async (tx) => {
        const renewed = await tx
          .updateTable('deployment_leases')
          .set({ expires_at: expiresAt })
          .where('deployment_id', '=', id)
          .where('owner', '=', owner)
          .executeTakeFirst();
        if (renewed.numUpdatedRows !== 1n) return { held: false, cancelRequested: false };
        const row = await tx
          .selectFrom('deployments')
          .select('cancel_requested')
          .where('id', '=', id)
          .executeTakeFirst();
        return { held: true, cancelRequested: row?.cancel_requested === 1 };
      });
    },
    progress(id, owner, progress, events) {
      return store.transact(async (tx) => {
        if (!(await holdsLease(tx, id, owner))) return { held: false, cancelRequested: false };
        const current = await tx
          .selectFrom('deployments')
          .select('cancel_requested')
          .where('id', '=', id)
          .executeTakeFirst();
        if (!current) return { held: false, cancelRequested: false };
        await insertEvents(tx, id, events);
        const columns = progressColumns(progress);
        if (Object.keys(columns).length > 0) {
          await tx.updateTable('deployments').set(columns).where('id', '=', id).execute();
        }
        return { held: true, cancelRequested: current.cancel_requested === 1 };
      });
    },
    finish(id, owner, outcome: DeploymentOutcome, now, events) {
      return store.transact(async (tx) => {
        if (!(await holdsLease(tx, id, owner))) return false;
        await insertEvents(tx, id, events);
        await tx
          .updateTable('deployments')
          .set({
            ...progressColumns(outcome),
            status: outcome.status,
            finished_at: now,
            current_step: null,
            bundle_bytes: null,
            ...(outcome.error === undefined ? {} : { error: outcome.error }),
            ...(outcome.releaseVersion === undefined
              ? {}
              : { release_version: outcome.releaseVersion }),
          })
          .where('id', '=', id)
          .execute();
        await tx.deleteFrom('deployment_leases').where('deployment_id', '=', id).execute();
        await tx.deleteFrom('bundle_chunks').where('deployment_id', '=', id).execute();
        return true;
      });
    },
    async expiredLeases(now) {
      const rows = await store.db
        .selectFrom('deployment_leases')
        .select('deployment_id')
        .where('expires_at', '<', now)
        .execute();
      return rows.map((r) => r.deployment_id);
    },
    failExpired(id, now, reasonFor) {
      return store.transact(async (tx) => {
        // Compare-and-delete: only the controller that removes the stale lease fails the task.
        const removed = await tx
          .deleteFrom('deployment_leases')
          .where('deployment_id', '=', id)
          .where('expires_at', '<', now)
          .executeTakeFirst();
        if (removed.numDeletedRows !== 1n) return undefined;
        const current = await get(tx, id);
        if (!current || current.status !== 'running') return undefined;
        const error = reasonFor(current.currentStep ?? 'startup');
        await tx.deleteFrom('bundle_chunks').where('deployment_id', '=', id).execute();
        const steps = current.steps.map((s) =>
          s.status === 'running' ? { ...s, status: 'failed' as const, finishedAt: now } : s,
        );
        const step = current.currentStep;
        await insertEvents(tx, id, [
          ...(step === null
            ? []
            : [{ kind: 'step-finished' as const, status: 'failed' as const, step, at: now }]),
          { kind: 'finished', status: 'failed', error, release: null, step: null, at: now },
        ]);
        await tx
          .updateTable('deployments')
          .set({
            status: 'failed',
            finished_at: now,
            error,
            current_step: null,
            steps: JSON.stringify(steps),
          })
          .where('id', '=', id)
          .execute();
        return id;
      });
    },
    requestCancel(id, now) {
      return store.transact(async (tx) => {
        const queued = await tx
          .updateTable('deployments')
          .set({
            status: 'cancelled',
            finished_at: now,
            error: 'cancelled before it started',
            cancel_requested: 1,
          })
          .where('id', '=', id)
          .where('status', '=', 'queued')
          .executeTakeFirst();
        if (queued.numUpdatedRows === 1n) {
          await tx.deleteFrom('bundle_chunks').where('deployment_id', '=', id).execute();
          const finished: NewDeploymentEvent = {
            kind: 'finished',
            status: 'cancelled',
            error: 'cancelled before it started',
            release: null,
            step: null,
            at: now,
          };
          await insertEvents(tx, id, [finished]);
          return 'cancelled' as const;
        }
        const running = await tx
          .updateTable('deployments')
          .set({ cancel_requested: 1 })
          .where('id', '=', id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        return running.numUpdatedRows === 1n ? ('requested' as const) : ('finished' as const);
      });
    },
    events: (id, after, limit) => readEvents(store.db, id, after, limit),
    trimEvents: (id, dropBytes) => store.transact((tx) => trimEvents(tx, id, dropBytes)),
    async logTail(id) {
      const events = await lastEvents(store.db, id, LOG_TAIL_EVENTS);
      if (events.length === 0) {
        // A task from before migration 8 kept its log as text.
        const row = await store.db
          .selectFrom('deployments')
          .select('log')
          .where('id', '=', id)
          .executeTakeFirst();
        return row?.log ?? '';
      }
      let text = '';
      for (const event of events) {
        const line = logTextOf(event);
        if (line !== undefined) text += `${event.at} ${line}\n`;
      }
      return tailOf(text);
    },
    async statusOf(id): Promise<DeploymentStatus | undefined> {
      const row = await store.db
        .selectFrom('deployments')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirst();
      return row?.status;
    },
  };
}
