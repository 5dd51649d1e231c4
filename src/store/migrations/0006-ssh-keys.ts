import { compiled, type Migration } from './migration.js';

export const sshKeysMigration: Migration = {
  version: 6,
  name: 'ssh public keys',
  statements: ({ schema }) => [
    // A user's SSH public keys for git over SSH. A key is found by its SHA256 fingerprint at
    // every connection, and one key belongs to one user only.
    compiled(
      schema
        .createTable('ssh_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull()),
    ),
    compiled(schema.createIndex('ssh_keys_user').on('ssh_keys').column('user_id')),
  ],
};
