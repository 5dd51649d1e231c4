import type { Store } from '../../store/index.js';
import type { Maintenance, MaintenanceState } from './service.js';

/** The app_maintenance table, for the maintenance service. */
export function maintenanceState(store: Store): MaintenanceState {
  const rows = () =>
    store.db
      .selectFrom('app_maintenance')
      .innerJoin('apps', 'apps.id', 'app_maintenance.app_id')
      .select([
        'app_maintenance.app_id as appId',
        'apps.name as appName',
        'app_maintenance.message',
        'app_maintenance.started_at as startedAt',
      ])
      .orderBy('apps.name');
  return {
    changesNamespace: 'app_maintenance',
    async put(row) {
      await store.transact((tx) =>
        tx
          .insertInto('app_maintenance')
          .values({ app_id: row.appId, message: row.message, started_at: row.startedAt })
          .onConflict((oc) =>
            oc.column('app_id').doUpdateSet((eb) => ({ message: eb.ref('excluded.message') })),
          )
          .execute(),
      );
    },
    async remove(appId) {
      const result = await store.transact((tx) =>
        tx.deleteFrom('app_maintenance').where('app_id', '=', appId).executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },
    async get(appId): Promise<Maintenance | undefined> {
      return rows().where('app_maintenance.app_id', '=', appId).executeTakeFirst();
    },
    async list(): Promise<Maintenance[]> {
      return rows().execute();
    },
  };
}
