import { compiled, type Migration } from './migration.js';

export const appsConfigAuditMigration: Migration = {
  version: 3,
  name: 'apps, config vars and the audit log',
  statements: ({ schema }) => [
    compiled(
      schema
        .createTable('apps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull()),
    ),
    compiled(schema.createIndex('apps_owner').on('apps').column('owner_id')),
    // A value is an encrypted envelope (see src/secrets); the plaintext never reaches SQL.
    compiled(
      schema
        .createTable('config_vars')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('envelope', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('config_vars_pk', ['app_id', 'key']),
    ),
    compiled(
      schema
        .createTable('audit_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('actor_name', 'text')
        .addColumn('token_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('detail', 'text'),
    ),
    compiled(schema.createIndex('audit_log_at').on('audit_log').column('at')),
  ],
};
