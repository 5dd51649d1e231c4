import type { Selectable } from 'kysely';
import type { Store, UnitPortTable } from '../../store/index.js';
import type { DataPlaneHostRecord, DataPlaneState, UnitPortClaim } from './service.js';

function toClaim(row: Selectable<UnitPortTable>): UnitPortClaim {
  return {
    hostId: row.host_id,
    port: Number(row.port),
    owner: row.owner,
    unitId: row.unit_id,
    claimedAt: row.claimed_at,
  };
}

/** The data_plane_host and unit_ports tables, for the data-plane service. */
export function dataPlaneState(store: Store): DataPlaneState {
  const host = async (): Promise<DataPlaneHostRecord | undefined> => {
    const row = await store.db
      .selectFrom('data_plane_host')
      .selectAll()
      .where('id', '=', 1)
      .executeTakeFirst();
    return row && { hostId: row.host_id, hostName: row.host_name, recordedAt: row.recorded_at };
  };
  return {
    host,
    async recordHost(record) {
      await store.transact((tx) =>
        tx
          .insertInto('data_plane_host')
          .values({
            id: 1,
            host_id: record.hostId,
            host_name: record.hostName,
            recorded_at: record.recordedAt,
          })
          // Another controller recorded its host first: that record holds.
          .onConflict((oc) => oc.column('id').doNothing())
          .execute(),
      );
      const recorded = await host();
      if (!recorded) throw new Error('the data plane host was recorded but cannot be read');
      return recorded;
    },
    async insertClaim(claim) {
      const inserted = await store.transact((tx) =>
        tx
          .insertInto('unit_ports')
          .values({
            host_id: claim.hostId,
            port: claim.port,
            owner: claim.owner,
            unit_id: claim.unitId,
            claimed_at: claim.claimedAt,
          })
          // A port claimed on the host is an answer (try another), not an error: on
          // PostgreSQL a racing insert waits for the first to commit, then does nothing.
          .onConflict((oc) => oc.columns(['host_id', 'port']).doNothing())
          .returning('port')
          .executeTakeFirst(),
      );
      return inserted !== undefined;
    },
    async claimedPorts(hostId, from, to) {
      const rows = await store.db
        .selectFrom('unit_ports')
        .select('port')
        .where('host_id', '=', hostId)
        .where('port', '>=', from)
        .where('port', '<=', to)
        .execute();
      return rows.map((row) => Number(row.port));
    },
    async claimsOf(hostId, owner) {
      const rows = await store.db
        .selectFrom('unit_ports')
        .selectAll()
        .where('host_id', '=', hostId)
        .where('owner', '=', owner)
        .execute();
      return rows.map(toClaim);
    },
    async deleteUnitClaims(hostId, owner, unitId) {
      await store.transact((tx) =>
        tx
          .deleteFrom('unit_ports')
          .where('host_id', '=', hostId)
          .where('owner', '=', owner)
          .where('unit_id', '=', unitId)
          .execute(),
      );
    },
    async deleteClaim(claim) {
      await store.transact((tx) =>
        tx
          .deleteFrom('unit_ports')
          .where('host_id', '=', claim.hostId)
          .where('port', '=', claim.port)
          .where('owner', '=', claim.owner)
          .where('unit_id', '=', claim.unitId)
          .execute(),
      );
    },
  };
}
