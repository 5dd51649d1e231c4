import { compiled, type Migration } from './migration.js';

export const domainsMaintenanceMigration: Migration = {
  version: 12,
  name: 'custom domains and maintenance mode',
  statements: ({ schema }) => [
    // A custom host an app answers on besides `<app>.<domain>`: an exact name or a one-label
    // wildcard (`*.example.com`), stored lower-case, in punycode, without a trailing dot. The
    // host is the key, so a host belongs to one app; it goes with its app.
    compiled(
      schema
        .createTable('app_domains')
        .addColumn('host', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull()),
    ),
    compiled(schema.createIndex('app_domains_app').on('app_domains').column('app_id')),
    // An app in maintenance: while the row exists the router answers its hosts with a 503 page
    // (the message, if any) instead of passing requests on. Kept here, so a restarted router
    // or controller keeps it.
    compiled(
      schema
        .createTable('app_maintenance')
        .addColumn('app_id', 'text', (c) =>
          c.primaryKey().references('apps.id').onDelete('cascade'),
        )
        .addColumn('message', 'text')
        .addColumn('started_at', 'text', (c) => c.notNull()),
    ),
  ],
};
