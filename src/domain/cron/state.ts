import type { Selectable } from 'kysely';
import {
  isUniqueViolation,
  type CronRunTable,
  type CronScheduleTable,
  type Store,
} from '../../store/index.js';
import {
  ConcurrencyPolicies,
  CronRunStatuses,
  CronTriggers,
  type ConcurrencyPolicy,
  type CronRun,
  type CronRunStatus,
  type CronSchedule,
  type CronTrigger,
} from './model.js';
import type { CronState } from './service.js';

function toSchedule(row: Selectable<CronScheduleTable>): CronSchedule {
  return {
    appId: row.app_id,
    id: row.id,
    command: row.command,
    schedule: row.schedule,
    concurrencyPolicy: (ConcurrencyPolicies as readonly string[]).includes(row.concurrency_policy)
      ? (row.concurrency_policy as ConcurrencyPolicy)
      : 'allow',
    maintenance: Number(row.maintenance) === 1,
    suspended: Number(row.suspended) === 1,
    release: Number(row.release),
    since: row.since,
    updatedAt: row.updated_at,
  };
}

function toRun(row: Selectable<CronRunTable>): CronRun {
  return {
    id: row.id,
    appId: row.app_id,
    scheduleId: row.schedule_id,
    slot: row.slot,
    trigger: (Object.values(CronTriggers) as string[]).includes(row.trigger)
      ? (row.trigger as CronTrigger)
      : CronTriggers.schedule,
    status: row.status as CronRunStatus,
    command: row.command,
    release: row.release === null ? null : Number(row.release),
    stopRequested: Number(row.stop_requested) === 1,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    signal: row.signal,
    output: row.output,
    error: row.error,
  };
}

/** The cron_schedules, cron_runs and cron_run_leases tables, for the cron service. */
export function cronState(store: Store): CronState {
  return {
    schedulesNamespace: 'cron_schedules',
    runsNamespace: 'cron_runs',

    async schedules(appId) {
      let query = store.db.selectFrom('cron_schedules').selectAll();
      if (appId !== undefined) query = query.where('app_id', '=', appId);
      const rows = await query.orderBy('app_id').orderBy('id').execute();
      return rows.map(toSchedule);
    },

    replaceSchedules(appId, release, specs, now) {
      return store.transact(async (tx) => {
        const existing = await tx
          .selectFrom('cron_schedules')
          .selectAll()
          .where('app_id', '=', appId)
          .execute();
        if (existing.some((row) => Number(row.release) > release)) return false;
        const declared = new Set(specs.map((spec) => spec.id));
        const gone = existing.filter((row) => !declared.has(row.id)).map((row) => row.id);
        if (gone.length > 0) {
          await tx
            .deleteFrom('cron_schedules')
            .where('app_id', '=', appId)
            .where('id', 'in', gone)
            .execute();
        }
        for (const spec of specs) {
          const old = existing.find((row) => row.id === spec.id);
          const values = {
            command: spec.command,
            schedule: spec.schedule,
            concurrency_policy: spec.concurrencyPolicy,
            maintenance: spec.maintenance ? 1 : 0,
            release,
          };
          if (!old) {
            await tx
              .insertInto('cron_schedules')
              .values({
                app_id: appId,
                id: spec.id,
                ...values,
                suspended: 0,
                since: now,
                updated_at: now,
              })
              // Another controller may sync the same release at once: its row is as good.
              .onConflict((oc) => oc.columns(['app_id', 'id']).doNothing())
              .execute();
            continue;
          }
          const same =
            old.command === values.command &&
            old.schedule === values.schedule &&
            old.concurrency_policy === values.concurrency_policy &&
            Number(old.maintenance) === values.maintenance &&
            Number(old.release) === release;
          if (same) continue;
          await tx
            .updateTable('cron_schedules')
            .set({
              ...values,
              // A new expression starts from now: its slots before the deploy are not due.
              since: old.schedule === spec.schedule ? old.since : now,
              updated_at: now,
            })
            .where('app_id', '=', appId)
            .where('id', '=', spec.id)
            .execute();
        }
        return true;
      });
    },

    async setSuspended(appId, id, suspended, now) {
      const result = await store.transact((tx) =>
        tx
          .updateTable('cron_schedules')
          .set({
            suspended: suspended ? 1 : 0,
            updated_at: now,
            // Resumed: from its next slot on, so the suspended ones are not caught up.
            ...(suspended ? {} : { since: now }),
          })
          .where('app_id', '=', appId)
          .where('id', '=', id)
          .where('suspended', '=', suspended ? 0 : 1)
          .executeTakeFirst(),
      );
      return result.numUpdatedRows > 0n;
    },

    async removeSchedules(appId) {
      const result = await store.transact((tx) =>
        tx.deleteFrom('cron_schedules').where('app_id', '=', appId).executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },

    async lastSlot(appId, scheduleId) {
      const row = await store.db
        .selectFrom('cron_runs')
        .select((eb) => eb.fn.max('slot').as('slot'))
        .where('app_id', '=', appId)
        .where('schedule_id', '=', scheduleId)
        .executeTakeFirst();
      return row?.slot ?? undefined;
    },

    async claim(run, policy, leaseUntil) {
      try {
        return await store.transact(async (tx) => {
          const running = await tx
            .selectFrom('cron_runs')
            .select('id')
            .where('app_id', '=', run.appId)
            .where('schedule_id', '=', run.scheduleId)
            .where('status', '=', CronRunStatuses.running)
            .execute();
          const skip = policy === 'forbid' && running.length > 0;
          const row = {
            id: run.id,
            app_id: run.appId,
            schedule_id: run.scheduleId,
            slot: run.slot,
            trigger: run.trigger,
            status: skip ? CronRunStatuses.skipped : CronRunStatuses.running,
            command: run.command,
            release: null,
            stop_requested: 0,
            started_at: run.startedAt,
            finished_at: skip ? run.startedAt : null,
            exit_code: null,
            signal: null,
            output: '',
            error: skip
              ? 'a run of this schedule was still going (concurrency_policy forbid)'
              : null,
          };
          await tx.insertInto('cron_runs').values(row).execute();
          if (skip) return { kind: 'skipped' as const, run: toRun(row) };
          const replaced = policy === 'replace' ? running.map((r) => r.id) : [];
          if (replaced.length > 0) {
            await tx
              .updateTable('cron_runs')
              .set({ stop_requested: 1 })
              .where('id', 'in', replaced)
              .execute();
          }
          await tx
            .insertInto('cron_run_leases')
            .values({ run_id: run.id, expires_at: leaseUntil })
            .execute();
          return { kind: 'started' as const, run: toRun(row), replaced };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return { kind: 'taken' };
        throw error;
      }
    },

    async finish(runId, end, finishedAt) {
      await store.transact(async (tx) => {
        await tx
          .updateTable('cron_runs')
          .set({
            status: end.status,
            release: end.release,
            exit_code: end.exitCode,
            signal: end.signal,
            output: end.output,
            error: end.error,
            finished_at: finishedAt,
          })
          .where('id', '=', runId)
          .where('status', '=', CronRunStatuses.running)
          .execute();
        await tx.deleteFrom('cron_run_leases').where('run_id', '=', runId).execute();
      });
    },

    async runs(appId, scheduleId, limit = 50) {
      let query = store.db.selectFrom('cron_runs').selectAll().where('app_id', '=', appId);
      if (scheduleId !== undefined) query = query.where('schedule_id', '=', scheduleId);
      const rows = await query.orderBy('started_at', 'desc').orderBy('id').limit(limit).execute();
      return rows.map(toRun);
    },

    async lastRuns(appId) {
      const rows = await store.db
        .selectFrom('cron_runs')
        .selectAll()
        .where('app_id', '=', appId)
        .where('started_at', '=', (eb) =>
          eb
            .selectFrom('cron_runs as newer')
            .select((e) => e.fn.max('newer.started_at').as('started_at'))
            .whereRef('newer.app_id', '=', 'cron_runs.app_id')
            .whereRef('newer.schedule_id', '=', 'cron_runs.schedule_id'),
        )
        .orderBy('id')
        .execute();
      const last = new Map<string, CronRun>();
      for (const row of rows) if (!last.has(row.schedule_id)) last.set(row.schedule_id, toRun(row));
      return last;
    },

    async stopRequested(runIds) {
      const rows = await store.db
        .selectFrom('cron_runs')
        .select('id')
        .where('id', 'in', runIds)
        .where('stop_requested', '=', 1)
        .execute();
      return rows.map((row) => row.id);
    },

    async renewLeases(runIds, until) {
      await store.transact((tx) =>
        tx
          .updateTable('cron_run_leases')
          .set({ expires_at: until })
          .where('run_id', 'in', runIds)
          .execute(),
      );
    },

    failAbandoned(now, error) {
      return store.transact(async (tx) => {
        const lapsed = await tx
          .selectFrom('cron_run_leases')
          .select('run_id')
          .where('expires_at', '<', now)
          .execute();
        if (lapsed.length === 0) return 0;
        const ids = lapsed.map((row) => row.run_id);
        await tx
          .updateTable('cron_runs')
          .set({ status: CronRunStatuses.failed, error, finished_at: now })
          .where('id', 'in', ids)
          .where('status', '=', CronRunStatuses.running)
          .execute();
        await tx.deleteFrom('cron_run_leases').where('run_id', 'in', ids).execute();
        return ids.length;
      });
    },

    async prune(appId, scheduleId, keep) {
      const old = await store.db
        .selectFrom('cron_runs')
        .select('id')
        .where('app_id', '=', appId)
        .where('schedule_id', '=', scheduleId)
        .where('status', '!=', CronRunStatuses.running)
        .orderBy('started_at', 'desc')
        .orderBy('id')
        .offset(keep)
        .limit(1000)
        .execute();
      if (old.length === 0) return;
      const ids = old.map((row) => row.id);
      await store.transact((tx) => tx.deleteFrom('cron_runs').where('id', 'in', ids).execute());
    },
  };
}
