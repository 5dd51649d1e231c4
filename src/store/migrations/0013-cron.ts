import { compiled, type Migration } from './migration.js';

export const cronMigration: Migration = {
  version: 13,
  name: 'app cron schedules and their runs',
  statements: ({ schema }) => [
    // An app's scheduled command, from its live release's manifests (app.json or berth.json
    // `cron`); a deploy that changes them replaces the rows, keeping `suspended` by id.
    // `release` is the version they came from, so that an older release never overwrites a
    // newer one's; `since` is when the schedule took effect: its first slot comes after it.
    compiled(
      schema
        .createTable('cron_schedules')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('schedule', 'text', (c) => c.notNull())
        .addColumn('concurrency_policy', 'text', (c) => c.notNull())
        .addColumn('maintenance', 'integer', (c) => c.notNull())
        .addColumn('suspended', 'integer', (c) => c.notNull())
        .addColumn('release', 'integer', (c) => c.notNull())
        .addColumn('since', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('cron_schedules_pk', ['app_id', 'id']),
    ),
    // One run of a schedule: started on its slot (or by hand, with no slot), skipped by the
    // forbid policy, or stopped by replace. The unique slot is what makes a slot run once when
    // several controllers share the store (a NULL slot, a run by hand, is never equal).
    compiled(
      schema
        .createTable('cron_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('schedule_id', 'text', (c) => c.notNull())
        .addColumn('slot', 'text')
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('release', 'integer')
        .addColumn('stop_requested', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('signal', 'text')
        .addColumn('output', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addUniqueConstraint('cron_runs_slot', ['app_id', 'schedule_id', 'slot']),
    ),
    compiled(
      schema
        .createIndex('cron_runs_schedule')
        .on('cron_runs')
        .columns(['app_id', 'schedule_id', 'started_at']),
    ),
    // The lease of a running run, apart from the run so that renewing it wakes no watcher: a
    // run whose lease lapsed lost its controller and is failed by whichever controller sees it.
    compiled(
      schema
        .createTable('cron_run_leases')
        .addColumn('run_id', 'text', (c) =>
          c.primaryKey().references('cron_runs.id').onDelete('cascade'),
        )
        .addColumn('expires_at', 'text', (c) => c.notNull()),
    ),
  ],
};
