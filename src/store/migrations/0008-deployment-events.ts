import { compiled, type Migration } from './migration.js';

export const deploymentEventsMigration: Migration = {
  version: 8,
  name: 'deployment events',
  statements: ({ schema, dialect }) => [
    // A task's progress as an append-only log read by cursor (id): step started, a line,
    // step finished, task finished, or a marker where old lines were trimmed. The id is the
    // cursor, so it only grows: AUTOINCREMENT on SQLite (never reused after a delete), an
    // identity on PostgreSQL. One writer per task (its lease holder) keeps ids in commit order.
    compiled(
      schema
        .createTable('deployment_events')
        .addColumn('id', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
          dialect === 'postgres'
            ? c.primaryKey().generatedAlwaysAsIdentity()
            : c.primaryKey().autoIncrement(),
        )
        .addColumn('deployment_id', 'text', (c) =>
          c.notNull().references('deployments.id').onDelete('cascade'),
        )
        .addColumn('step', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        // The payload's size in UTF-8 bytes: what the per-task limit counts.
        .addColumn('bytes', 'integer', (c) => c.notNull()),
    ),
    compiled(
      schema
        .createIndex('deployment_events_cursor')
        .on('deployment_events')
        .columns(['deployment_id', 'id']),
    ),
  ],
};
