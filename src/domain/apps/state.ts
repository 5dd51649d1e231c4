import type { Selectable } from 'kysely';
import type { AppTable, Store } from '../../store/index.js';
import type { App, AppsState } from './service.js';

function toApp(row: Selectable<AppTable>): App {
  return {
    id: row.id,
    name: row.name,
    ownerId: row.owner_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The apps table, for the apps service. */
export function appsState(store: Store): AppsState {
  return {
    async insert(app) {
      await store.transact((tx) =>
        tx
          .insertInto('apps')
          .values({
            id: app.id,
            name: app.name,
            owner_id: app.ownerId,
            created_at: app.createdAt,
            updated_at: app.updatedAt,
          })
          .execute(),
      );
    },
    async findByName(name) {
      const row = await store.db
        .selectFrom('apps')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toApp(row);
    },
    async findById(id) {
      const row = await store.db
        .selectFrom('apps')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toApp(row);
    },
    async list(ownerId) {
      let query = store.db.selectFrom('apps').selectAll().orderBy('name');
      if (ownerId !== undefined) query = query.where('owner_id', '=', ownerId);
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
