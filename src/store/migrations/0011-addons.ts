import { compiled, type Migration } from './migration.js';

export const addonsMigration: Migration = {
  version: 11,
  name: 'add-ons and their attachments',
  statements: ({ schema }) => [
    // An add-on: a database server Berth created once and keeps (PostgreSQL, Redis). Its
    // credentials are sealed like config vars; its port is chosen once, at creation, because
    // the URL attached apps hold names it. `uid` is the unprivileged user the process runtime
    // runs its server as (drawn like an app's, and recorded in app_unix_ids so that no app is
    // ever given it). The row is deleted only by an explicit destroy.
    compiled(
      schema
        .createTable('addons')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('uid', 'integer', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('credentials', 'text', (c) => c.notNull())
        // Backups by schedule: a cron expression (UTC), how many succeeded ones to keep, and
        // since when it holds (its first slot comes after that).
        .addColumn('backup_schedule', 'text')
        .addColumn('backup_retain', 'integer')
        .addColumn('backup_schedule_since', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull()),
    ),
    // Which apps an add-on is attached to, and as what: `<alias>_URL` in the app's releases.
    // An alias is the app's once; an add-on is attached to an app once.
    compiled(
      schema
        .createTable('addon_attachments')
        .addColumn('addon_id', 'text', (c) =>
          c.notNull().references('addons.id').onDelete('cascade'),
        )
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('addon_attachments_pk', ['app_id', 'alias'])
        .addUniqueConstraint('addon_attachments_once', ['addon_id', 'app_id']),
    ),
    // A backup of an add-on: a file under <data-dir>/backups/<addon>/, with its size and
    // SHA-256 once it was checked readable. `status` is running, succeeded or failed (with
    // `error`); a failed backup keeps its row, so that it is seen, and loses its file.
    compiled(
      schema
        .createTable('addon_backups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('addon_id', 'text', (c) =>
          c.notNull().references('addons.id').onDelete('cascade'),
        )
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'integer')
        .addColumn('sha256', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('addon_backups_name', ['addon_id', 'name']),
    ),
  ],
};
