import type { Selectable } from 'kysely';
import type { AddonBackupTable, AddonTable, Store } from '../../store/index.js';
import type { Addon, AddonAttachment, AddonBackup, AddonKind } from './model.js';
import type { AddonsState } from './service.js';

function toBackup(row: Selectable<AddonBackupTable>): AddonBackup {
  return {
    id: row.id,
    addonId: row.addon_id,
    name: row.name,
    kind: row.kind as AddonKind,
    status: row.status as AddonBackup['status'],
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    sha256: row.sha256,
    error: row.error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

function toAddon(row: Selectable<AddonTable>): Addon {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as AddonKind,
    version: row.version,
    ownerId: row.owner_id,
    uid: Number(row.uid),
    port: Number(row.port),
    backupSchedule:
      row.backup_schedule === null
        ? null
        : {
            expression: row.backup_schedule,
            retain: Number(row.backup_retain ?? 1),
            since: row.backup_schedule_since ?? row.created_at,
          },
    createdAt: row.created_at,
  };
}

/** The addons and addon_attachments tables, for the add-ons service. */
export function addonsState(store: Store): AddonsState {
  const attachments = () =>
    store.db
      .selectFrom('addon_attachments')
      .innerJoin('addons', 'addons.id', 'addon_attachments.addon_id')
      .select([
        'addon_attachments.addon_id',
        'addons.name',
        'addon_attachments.app_id',
        'addon_attachments.alias',
        'addon_attachments.created_at',
      ])
      .orderBy('addons.name')
      .orderBy('addon_attachments.alias');
  const toAttachment = (row: {
    addon_id: string;
    name: string;
    app_id: string;
    alias: string;
    created_at: string;
  }): AddonAttachment => ({
    addonId: row.addon_id,
    addonName: row.name,
    appId: row.app_id,
    alias: row.alias,
    createdAt: row.created_at,
  });
  return {
    changesNamespace: 'addons',
    attachmentsNamespace: 'addon_attachments',
    async insert(addon, credentials) {
      await store.transact(async (tx) => {
        await tx
          .insertInto('addons')
          .values({
            id: addon.id,
            name: addon.name,
            kind: addon.kind,
            version: addon.version,
            owner_id: addon.ownerId,
            uid: addon.uid,
            port: addon.port,
            credentials,
            backup_schedule: null,
            backup_retain: null,
            backup_schedule_since: null,
            created_at: addon.createdAt,
          })
          .execute();
        // Its uid is recorded with the apps', so that no app is ever given it.
        await tx
          .insertInto('app_unix_ids')
          .values({ uid: addon.uid, app_id: addon.id, created_at: addon.createdAt })
          .execute();
      });
    },
    async created(id, port, version) {
      await store.transact((tx) =>
        tx.updateTable('addons').set({ port, version }).where('id', '=', id).execute(),
      );
    },
    async setBackupSchedule(id, schedule) {
      await store.transact((tx) =>
        tx
          .updateTable('addons')
          .set({
            backup_schedule: schedule?.expression ?? null,
            backup_retain: schedule?.retain ?? null,
            backup_schedule_since: schedule?.since ?? null,
          })
          .where('id', '=', id)
          .execute(),
      );
    },
    async deleteBackup(id) {
      await store.transact((tx) => tx.deleteFrom('addon_backups').where('id', '=', id).execute());
    },
    async findByName(name) {
      const row = await store.db
        .selectFrom('addons')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toAddon(row);
    },
    async list() {
      const rows = await store.db.selectFrom('addons').selectAll().orderBy('name').execute();
      return rows.map(toAddon);
    },
    async credentials(id) {
      const row = await store.db
        .selectFrom('addons')
        .select('credentials')
        .where('id', '=', id)
        .executeTakeFirst();
      return row?.credentials;
    },
    async attachments(query) {
      let select = attachments();
      if (query.addonId !== undefined)
        select = select.where('addon_attachments.addon_id', '=', query.addonId);
      if (query.appId !== undefined)
        select = select.where('addon_attachments.app_id', '=', query.appId);
      return (await select.execute()).map(toAttachment);
    },
    async attach(attachment) {
      await store.transact((tx) =>
        tx
          .insertInto('addon_attachments')
          .values({
            addon_id: attachment.addonId,
            app_id: attachment.appId,
            alias: attachment.alias,
            created_at: attachment.createdAt,
          })
          .execute(),
      );
    },
    async detach(addonId, appId) {
      const result = await store.transact((tx) =>
        tx
          .deleteFrom('addon_attachments')
          .where('addon_id', '=', addonId)
          .where('app_id', '=', appId)
          .executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },
    async insertBackup(backup) {
      await store.transact((tx) =>
        tx
          .insertInto('addon_backups')
          .values({
            id: backup.id,
            addon_id: backup.addonId,
            name: backup.name,
            kind: backup.kind,
            status: backup.status,
            size_bytes: backup.sizeBytes,
            sha256: backup.sha256,
            error: backup.error,
            created_at: backup.createdAt,
            finished_at: backup.finishedAt,
          })
          .execute(),
      );
    },
    async finishBackup(id, outcome) {
      await store.transact((tx) =>
        tx
          .updateTable('addon_backups')
          .set({
            status: outcome.status,
            size_bytes: outcome.sizeBytes,
            sha256: outcome.sha256,
            error: outcome.error,
            finished_at: outcome.finishedAt,
          })
          .where('id', '=', id)
          .execute(),
      );
    },
    async backups(addonId) {
      const rows = await store.db
        .selectFrom('addon_backups')
        .selectAll()
        .where('addon_id', '=', addonId)
        .orderBy('created_at', 'desc')
        .orderBy('name', 'desc')
        .execute();
      return rows.map(toBackup);
    },
    async failRunningBackups(reason, now) {
      await store.transact((tx) =>
        tx
          .updateTable('addon_backups')
          .set({ status: 'failed', error: reason, finished_at: now })
          .where('status', '=', 'running')
          .execute(),
      );
    },
    async delete(id) {
      const result = await store.transact(async (tx) => {
        const attached = await tx
          .selectFrom('addon_attachments')
          .select('app_id')
          .where('addon_id', '=', id)
          .executeTakeFirst();
        if (attached) return 'attached' as const;
        const deleted = await tx.deleteFrom('addons').where('id', '=', id).executeTakeFirst();
        return deleted.numDeletedRows > 0n ? ('deleted' as const) : ('absent' as const);
      });
      return result;
    },
  };
}
