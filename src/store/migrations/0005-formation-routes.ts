import { compiled, type Migration } from './migration.js';

export const formationRoutesMigration: Migration = {
  version: 5,
  name: 'formation, live releases and routes',
  statements: ({ schema }) => [
    // How many units of each process type an app runs, and their size. Scaling is not a
    // release: it outlives deploys, and a deploy only adds the types it did not know.
    compiled(
      schema
        .createTable('formations')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('process_type', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('memory_bytes', 'bigint')
        .addColumn('cpu_millis', 'integer')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('formations_pk', ['app_id', 'process_type']),
    ),
    // Which release of an app serves (the last rollout that succeeded), and the last release
    // whose rollout failed, so that nothing retries it in a loop. No row: not deployed.
    compiled(
      schema
        .createTable('live_releases')
        .addColumn('app_id', 'text', (c) =>
          c.primaryKey().references('apps.id').onDelete('cascade'),
        )
        .addColumn('version', 'integer')
        .addColumn('failed_version', 'integer')
        .addColumn('failure', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull()),
    ),
    // The route table, as desired state: router sync programs the data plane from it.
    compiled(
      schema
        .createTable('routes')
        .addColumn('app_id', 'text', (c) =>
          c.primaryKey().references('apps.id').onDelete('cascade'),
        )
        .addColumn('app_name', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull()),
    ),
  ],
};
