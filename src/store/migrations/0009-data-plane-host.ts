import { sql } from 'kysely';
import { compiled, type Migration } from './migration.js';

export const dataPlaneHostMigration: Migration = {
  version: 9,
  name: 'data plane host and unit ports',
  statements: ({ schema }) => [
    // Which host the store's units live on (process and container runtimes: one host). At most
    // one row: the first controller to start records its host, and a controller on another
    // host refuses to start, since that host's router could not reach the units.
    compiled(
      schema
        .createTable('data_plane_host')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('host_name', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull()),
    ),
    // The ports units hold on a host, one row per port: the primary key is what stops two
    // controllers of one host (each with its own allocator) from handing out the same port.
    // `owner` is the runtime root that holds the unit, the one that may say it is gone.
    compiled(
      schema
        .createTable('unit_ports')
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('unit_id', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('unit_ports_pk', ['host_id', 'port']),
    ),
    compiled(
      schema
        .createIndex('unit_ports_owner')
        .on('unit_ports')
        .columns(['host_id', 'owner', 'unit_id']),
    ),
  ],
};
