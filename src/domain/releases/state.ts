import type { Kysely, Selectable } from 'kysely';
import type { Database, ReleaseTable, Store } from '../../store/index.js';
import type { Release } from './model.js';
import type { ProcessCommands } from './process-command.js';
import type { ReleaseQuery, ReleasesState, ReleasesTransaction } from './service.js';

function toRelease(row: Selectable<ReleaseTable>): Release {
  return {
    id: row.id,
    appId: row.app_id,
    version: row.version,
    artifactId: row.artifact_id,
    stack: row.stack,
    processes: JSON.parse(row.processes) as ProcessCommands,
    formation: JSON.parse(row.formation) as Record<string, number>,
    configEnvelope: row.config_envelope,
    description: row.description,
    deploymentId: row.deployment_id,
    createdAt: row.created_at,
  };
}

async function appExists(db: Kysely<Database>, appId: string): Promise<boolean> {
  const row = await db.selectFrom('apps').select('id').where('id', '=', appId).executeTakeFirst();
  return row !== undefined;
}

/**
 * The app's releases newest first, or undefined when the app does not exist. The app is looked
 * up only when no release matches (a release's app always exists: it cascades on delete).
 */
async function releasesOf(
  db: Kysely<Database>,
  appId: string,
  query: ReleaseQuery = {},
): Promise<Release[] | undefined> {
  let select = db
    .selectFrom('releases')
    .selectAll()
    .where('app_id', '=', appId)
    .orderBy('version', 'desc');
  if (query.version !== undefined) select = select.where('version', '=', query.version);
  if (query.limit !== undefined) select = select.limit(query.limit);
  const rows = await select.execute();
  if (rows.length === 0 && !(await appExists(db, appId))) return undefined;
  return rows.map(toRelease);
}

function transaction(tx: Kysely<Database>): ReleasesTransaction {
  return {
    releases: (appId, query) => releasesOf(tx, appId, query),
    async artifactExists(artifactId) {
      const row = await tx
        .selectFrom('artifacts')
        .select('id')
        .where('id', '=', artifactId)
        .executeTakeFirst();
      return row !== undefined;
    },
    async insert(release) {
      await tx
        .insertInto('releases')
        .values({
          id: release.id,
          app_id: release.appId,
          version: release.version,
          artifact_id: release.artifactId,
          stack: release.stack,
          processes: JSON.stringify(release.processes),
          formation: JSON.stringify(release.formation),
          config_envelope: release.configEnvelope,
          description: release.description,
          deployment_id: release.deploymentId,
          created_at: release.createdAt,
        })
        .execute();
    },
  };
}

/** The releases table, for the releases service. It has no UPDATE and no DELETE. */
export function releasesState(store: Store): ReleasesState {
  return {
    changesNamespace: 'releases',
    releases: (appId, query) => releasesOf(store.db, appId, query),
    transact: (work) =>
      // Read committed on PostgreSQL: two writers of one version meet at the unique
      // constraint, which the service retries. SQLite's BEGIN IMMEDIATE serializes them.
      store.transact((tx) => work(transaction(tx))),
  };
}
