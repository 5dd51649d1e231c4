import type { Kysely } from 'kysely';
import type { Database, Store } from '../../store/index.js';
import type { ConfigState, ConfigTransaction, StoredConfigVar } from './service.js';

/**
 * The app's keys, or undefined when the app does not exist: one statement answers both, from
 * one snapshot (a LEFT JOIN from apps yields one row of nulls for an app without vars).
 */
async function keysOf(db: Kysely<Database>, appId: string): Promise<string[] | undefined> {
  const rows = await db
    .selectFrom('apps')
    .leftJoin('config_vars', 'config_vars.app_id', 'apps.id')
    .select('config_vars.key as key')
    .where('apps.id', '=', appId)
    .execute();
  if (rows.length === 0) return undefined;
  return rows.flatMap((row) => (row.key === null ? [] : [row.key]));
}

function transaction(tx: Kysely<Database>): ConfigTransaction {
  return {
    keys: (appId) => keysOf(tx, appId),
    async envelopes(appId, keys) {
      if (keys.length === 0) return [];
      return tx
        .selectFrom('config_vars')
        .select(['key', 'envelope'])
        .where('app_id', '=', appId)
        .where('key', 'in', keys)
        .execute();
    },
    async upsert(appId, vars, now) {
      if (vars.length === 0) return;
      await tx
        .insertInto('config_vars')
        .values(
          vars.map((v) => ({
            app_id: appId,
            key: v.key,
            envelope: v.envelope,
            created_at: now,
            updated_at: now,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['app_id', 'key']).doUpdateSet((eb) => ({
            envelope: eb.ref('excluded.envelope'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    },
    async remove(appId, keys) {
      if (keys.length === 0) return;
      await tx
        .deleteFrom('config_vars')
        .where('app_id', '=', appId)
        .where('key', 'in', keys)
        .execute();
    },
  };
}

/** The config_vars table, for the config service. */
export function configState(store: Store): ConfigState {
  return {
    changesNamespace: 'config_vars',
    keys: (appId) => keysOf(store.db, appId),
    async list(appId) {
      const rows = await store.db
        .selectFrom('apps')
        .leftJoin('config_vars', 'config_vars.app_id', 'apps.id')
        .select(['config_vars.key as key', 'config_vars.envelope as envelope'])
        .where('apps.id', '=', appId)
        .execute();
      if (rows.length === 0) return undefined;
      return rows.flatMap((row): StoredConfigVar[] =>
        row.key === null || row.envelope === null ? [] : [{ key: row.key, envelope: row.envelope }],
      );
    },
    transact: (work) =>
      // Serializable on PostgreSQL (SQLite always is): conflicts are retried by the runner.
      store.transact((tx) => work(transaction(tx)), { isolation: 'serializable' }),
  };
}
