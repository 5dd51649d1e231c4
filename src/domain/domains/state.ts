import type { Store } from '../../store/index.js';
import type { AppDomain, DomainsState } from './service.js';

interface Row {
  host: string;
  app_id: string;
  app_name: string;
  created_at: string;
}

function toDomain(row: Row): AppDomain {
  return {
    host: row.host,
    wildcard: row.host.startsWith('*.'),
    appId: row.app_id,
    appName: row.app_name,
    createdAt: row.created_at,
  };
}

/** The app_domains table, for the domains service. */
export function domainsState(store: Store): DomainsState {
  const rows = () =>
    store.db
      .selectFrom('app_domains')
      .innerJoin('apps', 'apps.id', 'app_domains.app_id')
      .select([
        'app_domains.host',
        'app_domains.app_id',
        'apps.name as app_name',
        'app_domains.created_at',
      ])
      .orderBy('app_domains.host');
  return {
    changesNamespace: 'app_domains',
    async insert(row) {
      return store.transact(async (tx) => {
        const inserted = await tx
          .insertInto('app_domains')
          .values({ host: row.host, app_id: row.appId, created_at: row.createdAt })
          // A host some app holds, maybe added by a racing request: the holder is the answer.
          .onConflict((oc) => oc.column('host').doNothing())
          .returning('host')
          .executeTakeFirst();
        if (inserted) return undefined;
        const holder = await tx
          .selectFrom('app_domains')
          .innerJoin('apps', 'apps.id', 'app_domains.app_id')
          .select(['apps.id as appId', 'apps.name as appName'])
          .where('app_domains.host', '=', row.host)
          .executeTakeFirstOrThrow();
        return holder;
      });
    },
    async list() {
      return (await rows().execute()).map(toDomain);
    },
    async ofApp(appId) {
      return (await rows().where('app_domains.app_id', '=', appId).execute()).map(toDomain);
    },
    async remove(appId, host) {
      const result = await store.transact((tx) =>
        tx
          .deleteFrom('app_domains')
          .where('app_id', '=', appId)
          .where('host', '=', host)
          .executeTakeFirst(),
      );
      return result.numDeletedRows > 0n;
    },
  };
}
