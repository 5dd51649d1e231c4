import { sql } from 'kysely';
import { compiled, type Migration } from './migration.js';

export const deploymentsReleasesMigration: Migration = {
  version: 4,
  name: 'deployments, releases and artifacts',
  statements: ({ schema, dialect }) => [
    // Extracted bundles, stored once per content digest under <data-dir>/artifacts/<id>/.
    compiled(
      schema
        .createTable('artifacts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull()),
    ),
    compiled(
      schema
        .createTable('deployments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('source_kind', 'text', (c) => c.notNull())
        .addColumn('source_ref', 'text')
        .addColumn('source_sha', 'text')
        .addColumn('bundle_bytes', 'bigint')
        .addColumn('options', 'text', (c) => c.notNull())
        .addColumn('current_step', 'text')
        .addColumn('steps', 'text', (c) => c.notNull())
        .addColumn('log', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('process_errors', 'text')
        .addColumn('project_metadata', 'text')
        .addColumn('stack', 'text')
        .addColumn('release_version', 'integer')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0)),
    ),
    compiled(
      schema
        .createIndex('deployments_app_created')
        .on('deployments')
        .columns(['app_id', 'created_at']),
    ),
    // At most one queued or running task per app, enforced by the store itself.
    compiled(
      schema
        .createIndex('deployments_one_active_per_app')
        .on('deployments')
        .column('app_id')
        .unique()
        .where(sql.ref('status'), 'in', [sql.lit('queued'), sql.lit('running')]),
    ),
    // The uploaded bundle, in chunks, until its task has read it: any controller may claim the
    // task, so the bundle cannot stay on the disk of the one that received it.
    compiled(
      schema
        .createTable('bundle_chunks')
        .addColumn('deployment_id', 'text', (c) =>
          c.notNull().references('deployments.id').onDelete('cascade'),
        )
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('data', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
        .addPrimaryKeyConstraint('bundle_chunks_pk', ['deployment_id', 'seq']),
    ),
    // Leases live apart from deployments so heartbeats do not wake deployment watchers.
    compiled(
      schema
        .createTable('deployment_leases')
        .addColumn('deployment_id', 'text', (c) =>
          c.primaryKey().references('deployments.id').onDelete('cascade'),
        )
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull()),
    ),
    compiled(
      schema
        .createTable('releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('artifact_id', 'text', (c) => c.references('artifacts.id'))
        .addColumn('stack', 'text')
        .addColumn('processes', 'text', (c) => c.notNull())
        .addColumn('formation', 'text', (c) => c.notNull())
        .addColumn('config_envelope', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('releases_app_version', ['app_id', 'version']),
    ),
    // Per-process-type config (GET/PUT /deployments/configs/{app}), sealed like config vars.
    compiled(
      schema
        .createTable('process_configs')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('process_type', 'text', (c) => c.notNull())
        .addColumn('envelope', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('process_configs_pk', ['app_id', 'process_type']),
    ),
  ],
};
