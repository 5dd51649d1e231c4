// Migration 13 (app cron) on both stores, applied to a store of the migration before it: a
// slot is unique per schedule (what makes a slot run once across controllers), runs by hand
// (no slot) never collide, both tables go with their app, and changes reach the change log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUniqueViolation, migrations, watchedTables } from '../../src/store/index.js';
import { backends, createTestDatabase } from '../support/databases.js';
import { insertApp, insertTestUser, reopenStore } from '../support/stores.js';

const cron = migrations.findIndex((m) => m.name === 'app cron schedules and their runs');
const before = migrations.slice(0, cron);
const cronNamespaces = ['cron_schedules', 'cron_runs'];

const run = (id: string, slot: string | null) => ({
  id,
  app_id: 'app-shop',
  schedule_id: 'report',
  slot,
  trigger: slot === null ? 'manual' : 'schedule',
  status: 'running',
  command: 'true',
  release: null,
  stop_requested: 0,
  started_at: '2026-01-01T00:00:00.000Z',
  finished_at: null,
  exit_code: null,
  signal: null,
  output: '',
  error: null,
});

for (const backend of backends) {
  describe(`the cron migration on ${backend}`, () => {
    it('keeps a slot unique per schedule, and goes with its app', async () => {
      assert.ok(cron > 0);
      const location = await createTestDatabase(backend);
      try {
        const old = await reopenStore(location, {
          migrations: before,
          watchedTables: watchedTables.filter((t) => !cronNamespaces.includes(t.namespace)),
        });
        await insertTestUser(old);
        const appId = await insertApp(old, 'shop');
        await old.close();

        const store = await reopenStore(location);
        try {
          const now = '2026-01-01T00:00:00.000Z';
          await store.transact((tx) =>
            tx
              .insertInto('cron_schedules')
              .values({
                app_id: appId,
                id: 'report',
                command: 'true',
                schedule: '* * * * *',
                concurrency_policy: 'forbid',
                maintenance: 0,
                suspended: 0,
                release: 1,
                since: now,
                updated_at: now,
              })
              .execute(),
          );
          const slot = '2026-01-01T00:01:00.000Z';
          await store.transact((tx) =>
            tx.insertInto('cron_runs').values(run('r1', slot)).execute(),
          );
          await assert.rejects(
            store.transact((tx) => tx.insertInto('cron_runs').values(run('r2', slot)).execute()),
            (error) => isUniqueViolation(error),
          );
          await store.transact((tx) =>
            tx
              .insertInto('cron_runs')
              .values([run('m1', null), run('m2', null)])
              .execute(),
          );
          await store.transact((tx) =>
            tx.insertInto('cron_run_leases').values({ run_id: 'r1', expires_at: now }).execute(),
          );
          const logged = await store.db
            .selectFrom('change_log')
            .innerJoin('change_log_namespace', 'change_log_namespace.id', 'change_log.namespace_id')
            .select(['change_log_namespace.namespace', 'change_log.changed'])
            .where('change_log_namespace.namespace', 'in', cronNamespaces)
            .execute();
          assert.deepEqual(
            [...new Set(logged.map((row) => `${row.namespace} ${row.changed}`))].sort(),
            [`cron_runs ${appId}`, `cron_schedules ${appId}`],
          );

          await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', appId).execute());
          for (const table of ['cron_schedules', 'cron_runs', 'cron_run_leases'] as const) {
            const rows = await store.db.selectFrom(table).selectAll().execute();
            assert.equal(rows.length, 0, `${table} went with the app`);
          }
        } finally {
          await store.close();
        }
      } finally {
        await location.drop();
      }
    });
  });
}
