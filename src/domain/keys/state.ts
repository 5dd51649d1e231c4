import type { Selectable } from 'kysely';
import type { SshKeyTable, Store } from '../../store/index.js';
import type { SshKey } from './model.js';
import type { KeysState } from './service.js';

function toKey(row: Selectable<SshKeyTable>): SshKey {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    type: row.type,
    publicKey: row.public_key,
    fingerprint: row.fingerprint,
    createdAt: row.created_at,
  };
}

/** The ssh_keys table, for the keys service. */
export function keysState(store: Store): KeysState {
  return {
    async insert(key) {
      const inserted = await store.transact((tx) =>
        tx
          .insertInto('ssh_keys')
          .values({
            id: key.id,
            user_id: key.userId,
            name: key.name,
            type: key.type,
            public_key: key.publicKey,
            fingerprint: key.fingerprint,
            created_at: key.createdAt,
          })
          // Another user's (or a racing request's) key with this fingerprint: an answer.
          .onConflict((oc) => oc.column('fingerprint').doNothing())
          .returning('id')
          .executeTakeFirst(),
      );
      return inserted !== undefined;
    },
    async ofUser(userId) {
      const rows = await store.db
        .selectFrom('ssh_keys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toKey);
    },
    async byFingerprint(fingerprint) {
      const row = await store.db
        .selectFrom('ssh_keys')
        .selectAll()
        .where('fingerprint', '=', fingerprint)
        .executeTakeFirst();
      return row && toKey(row);
    },
    async remove(id, ownerId) {
      const result = await store.transact((tx) => {
        let query = tx.deleteFrom('ssh_keys').where('id', '=', id);
        if (ownerId !== undefined) query = query.where('user_id', '=', ownerId);
        return query.executeTakeFirst();
      });
      return result.numDeletedRows > 0n;
    },
  };
}
