import type { Store } from '../../store/index.js';
import type { FormationState, StoredFormation } from './service.js';

/** The formations table, for the formation service. */
export function formationState(store: Store): FormationState {
  return {
    changesNamespace: 'formations',
    async list(appId) {
      // A LEFT JOIN from apps tells "no app" (no row) from "no formation" (one row of nulls).
      const rows = await store.db
        .selectFrom('apps')
        .leftJoin('formations', 'formations.app_id', 'apps.id')
        .select([
          'formations.process_type as processType',
          'formations.count as count',
          'formations.memory_bytes as memoryBytes',
          'formations.cpu_millis as cpuMillis',
        ])
        .where('apps.id', '=', appId)
        .execute();
      if (rows.length === 0) return undefined;
      return rows.flatMap((row): StoredFormation[] =>
        row.processType === null || row.count === null
          ? []
          : [
              {
                processType: row.processType,
                count: Number(row.count),
                // pg returns bigint columns as strings.
                memoryBytes: row.memoryBytes === null ? null : Number(row.memoryBytes),
                cpuMillis: row.cpuMillis === null ? null : Number(row.cpuMillis),
              },
            ],
      );
    },
    async upsert(appId, rows, now) {
      if (rows.length === 0) return;
      await store.transact((tx) =>
        tx
          .insertInto('formations')
          .values(
            rows.map((row) => ({
              app_id: appId,
              process_type: row.processType,
              count: row.count,
              memory_bytes: row.memoryBytes,
              cpu_millis: row.cpuMillis,
              updated_at: now,
            })),
          )
          .onConflict((oc) =>
            oc.columns(['app_id', 'process_type']).doUpdateSet((eb) => ({
              count: eb.ref('excluded.count'),
              memory_bytes: eb.ref('excluded.memory_bytes'),
              cpu_millis: eb.ref('excluded.cpu_millis'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute(),
      );
    },
  };
}
