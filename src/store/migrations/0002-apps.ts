import { compiled, type Migration } from './migration.js';

export const appsMigration: Migration = {
  version: 2,
  name: 'apps',
  statements: ({ schema }) => [
    compiled(
      schema
        .createTable('apps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull()),
    ),
  ],
};
