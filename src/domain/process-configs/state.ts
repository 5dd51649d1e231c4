import type { Kysely } from 'kysely';
import type { Database, Store } from '../../store/index.js';
import type {
  ProcessConfigState,
  ProcessConfigTransaction,
  StoredProcessConfig,
} from './service.js';

/**
 * The app's process configs, or undefined when the app does not exist: one statement answers
 * both, from one snapshot (a LEFT JOIN from apps yields one row of nulls for an app without).
 */
async function listOf(
  db: Kysely<Database>,
  appId: string,
): Promise<StoredProcessConfig[] | undefined> {
  const rows = await db
    .selectFrom('apps')
    .leftJoin('process_configs', 'process_configs.app_id', 'apps.id')
    .select(['process_configs.process_type as processType', 'process_configs.envelope as envelope'])
    .where('apps.id', '=', appId)
    .execute();
  if (rows.length === 0) return undefined;
  return rows.flatMap((row): StoredProcessConfig[] =>
    row.processType === null || row.envelope === null
      ? []
      : [{ processType: row.processType, envelope: row.envelope }],
  );
}

function transaction(tx: Kysely<Database>): ProcessConfigTransaction {
  return {
    list: (appId) => listOf(tx, appId),
    async upsert(appId, configs, now) {
      if (configs.length === 0) return;
      await tx
        .insertInto('process_configs')
        .values(
          configs.map((c) => ({
            app_id: appId,
            process_type: c.processType,
            envelope: c.envelope,
            updated_at: now,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['app_id', 'process_type']).doUpdateSet((eb) => ({
            envelope: eb.ref('excluded.envelope'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    },
    async remove(appId, processTypes) {
      if (processTypes.length === 0) return;
      await tx
        .deleteFrom('process_configs')
        .where('app_id', '=', appId)
        .where('process_type', 'in', processTypes)
        .execute();
    },
  };
}

/** The process_configs table, for the process-config service. */
export function processConfigState(store: Store): ProcessConfigState {
  return {
    list: (appId) => listOf(store.db, appId),
    transact: (work) =>
      // Serializable on PostgreSQL (SQLite always is): conflicts are retried by the runner.
      store.transact((tx) => work(transaction(tx)), { isolation: 'serializable' }),
  };
}
