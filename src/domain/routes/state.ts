import type { Selectable } from 'kysely';
import type { RouteTableRow, Store } from '../../store/index.js';
import type { AppRoute, RouteTargetSpec, RoutesState } from './service.js';

function toRoute(row: Selectable<RouteTableRow>): AppRoute {
  return {
    appId: row.app_id,
    appName: row.app_name,
    target: JSON.parse(row.target) as RouteTargetSpec,
    updatedAt: row.updated_at,
  };
}

/** The routes table, for the routes service. */
export function routesState(store: Store): RoutesState {
  return {
    changesNamespace: 'routes',
    async list() {
      const rows = await store.db.selectFrom('routes').selectAll().orderBy('app_name').execute();
      return rows.map(toRoute);
    },
    async get(appId) {
      const row = await store.db
        .selectFrom('routes')
        .selectAll()
        .where('app_id', '=', appId)
        .executeTakeFirst();
      return row && toRoute(row);
    },
    async put(route) {
      await store.transact((tx) =>
        tx
          .insertInto('routes')
          .values({
            app_id: route.appId,
            app_name: route.appName,
            target: JSON.stringify(route.target),
            updated_at: route.updatedAt,
          })
          .onConflict((oc) =>
            oc.column('app_id').doUpdateSet((eb) => ({
              app_name: eb.ref('excluded.app_name'),
              target: eb.ref('excluded.target'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute(),
      );
    },
    async remove(appId) {
      const result = await store.transact((tx) =>
        tx.deleteFrom('routes').where('app_id', '=', appId).executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },
  };
}
