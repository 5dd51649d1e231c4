import type { Selectable } from 'kysely';
import type { AppTable, Store } from '../../store/index.js';
import type { App, AppsState } from './service.js';

function toApp(row: Selectable<AppTable> & { uid: number | null }): App {
  if (row.uid === null) throw new Error(`app ${row.id} has no unix id`);
  return {
    id: row.id,
    name: row.name,
    ownerId: row.owner_id,
    uid: Number(row.uid),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The apps table (with each app's uid from app_unix_ids), for the apps service. */
export function appsState(store: Store): AppsState {
  const apps = () =>
    store.db
      .selectFrom('apps')
      .leftJoin('app_unix_ids', 'app_unix_ids.app_id', 'apps.id')
      .selectAll('apps')
      .select('app_unix_ids.uid');
  return {
    changesNamespace: 'apps',
    async insert(app) {
      await store.transact(async (tx) => {
        await tx
          .insertInto('apps')
          .values({
            id: app.id,
            name: app.name,
            owner_id: app.ownerId,
            created_at: app.createdAt,
            updated_at: app.updatedAt,
          })
          .execute();
        await tx
          .insertInto('app_unix_ids')
          .values({ uid: app.uid, app_id: app.id, created_at: app.createdAt })
          .execute();
      });
    },
    async findByName(name) {
      const row = await apps().where('apps.name', '=', name).executeTakeFirst();
      return row && toApp(row);
    },
    async findById(id) {
      const row = await apps().where('apps.id', '=', id).executeTakeFirst();
      return row && toApp(row);
    },
    async list(ownerId) {
      let query = apps().orderBy('apps.name');
      if (ownerId !== undefined) query = query.where('apps.owner_id', '=', ownerId);
      return (await query.execute()).map(toApp);
    },
    async delete(id) {
      const result = await store.transact((tx) =>
        tx.deleteFrom('apps').where('id', '=', id).executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },
  };
}
