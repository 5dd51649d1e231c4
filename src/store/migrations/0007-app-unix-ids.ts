import { compiled, type Migration } from './migration.js';

/**
 * Where the uids of apps made before this migration start; new apps draw theirs at random
 * (see domain/apps APP_UIDS).
 */
const FIRST_APP_UID = 400_000;

export const appUnixIdsMigration: Migration = {
  version: 7,
  name: 'app unix ids',
  statements: ({ schema }) => [
    // The unprivileged uid (and gid of the same number) the process runtime runs each app's
    // builds, units and one-offs as. Rows outlive their app (app_id is not a foreign key): a
    // uid is never given twice, so a new app never owns what an old one left in /tmp. An
    // integer column: uids go up to 2^31 - 1, which PostgreSQL's integer holds.
    compiled(
      schema
        .createTable('app_unix_ids')
        .addColumn('uid', 'integer', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull()),
    ),
    // Apps made before this migration get theirs in the order of their ids.
    {
      sql:
        'insert into app_unix_ids (uid, app_id, created_at) ' +
        `select ${FIRST_APP_UID} + (select count(*) from apps b where b.id < a.id), a.id, a.created_at ` +
        'from apps a',
    },
  ],
};
