import type { Selectable } from 'kysely';
import type { LiveReleaseTable, Store } from '../../store/index.js';
import type { LiveRelease, RolloutsState } from './service.js';

function toLive(row: Selectable<LiveReleaseTable>): LiveRelease {
  return {
    appId: row.app_id,
    version: row.version === null ? null : Number(row.version),
    failedVersion: row.failed_version === null ? null : Number(row.failed_version),
    failure: row.failure,
    updatedAt: row.updated_at,
  };
}

/** The live_releases table, for the rollouts service. */
export function rolloutsState(store: Store): RolloutsState {
  return {
    changesNamespace: 'live_releases',
    async get(appId) {
      const row = await store.db
        .selectFrom('live_releases')
        .selectAll()
        .where('app_id', '=', appId)
        .executeTakeFirst();
      return row && toLive(row);
    },
    async list() {
      return (await store.db.selectFrom('live_releases').selectAll().execute()).map(toLive);
    },
    async put(live) {
      await store.transact((tx) =>
        tx
          .insertInto('live_releases')
          .values({
            app_id: live.appId,
            version: live.version,
            failed_version: live.failedVersion,
            failure: live.failure,
            updated_at: live.updatedAt,
          })
          .onConflict((oc) =>
            oc.column('app_id').doUpdateSet((eb) => ({
              version: eb.ref('excluded.version'),
              failed_version: eb.ref('excluded.failed_version'),
              failure: eb.ref('excluded.failure'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute(),
      );
    },
    async remove(appId) {
      const result = await store.transact((tx) =>
        tx.deleteFrom('live_releases').where('app_id', '=', appId).executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },
  };
}
