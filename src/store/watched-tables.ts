/**
 * The tables whose changes reach watchers. Each declaration generates that table's change-log
 * triggers on every dialect; the namespace id is stored in change_log rows and must never be
 * reused for another table.
 */
export interface WatchedTable {
  /** Stable id written into change_log.namespace_id. */
  readonly namespaceId: number;
  /** The namespace watchers subscribe to; by convention the table name. */
  readonly namespace: string;
  readonly table: string;
  /** The column whose value identifies a changed row in events. */
  readonly keyColumn: string;
  readonly description: string;
}

export const watchedTables: readonly WatchedTable[] = Object.freeze([
  {
    namespaceId: 1,
    namespace: 'apps',
    table: 'apps',
    keyColumn: 'id',
    description: 'applications',
  },
  {
    namespaceId: 2,
    namespace: 'config_vars',
    table: 'config_vars',
    keyColumn: 'app_id',
    description: "an app's config vars, keyed by app id",
  },
  {
    namespaceId: 3,
    namespace: 'deployments',
    table: 'deployments',
    keyColumn: 'app_id',
    description: "an app's deployment tasks, keyed by app id",
  },
  {
    namespaceId: 4,
    namespace: 'releases',
    table: 'releases',
    keyColumn: 'app_id',
    description: "an app's releases, keyed by app id",
  },
  {
    namespaceId: 5,
    namespace: 'formations',
    table: 'formations',
    keyColumn: 'app_id',
    description: "an app's formation (units per process type), keyed by app id",
  },
  {
    namespaceId: 6,
    namespace: 'live_releases',
    table: 'live_releases',
    keyColumn: 'app_id',
    description: 'which release of an app serves, keyed by app id',
  },
  {
    namespaceId: 7,
    namespace: 'routes',
    table: 'routes',
    keyColumn: 'app_id',
    description: "an app's route in the route table, keyed by app id",
  },
  {
    namespaceId: 8,
    namespace: 'deployment_events',
    table: 'deployment_events',
    keyColumn: 'deployment_id',
    description: "a deployment task's progress events, keyed by deployment id",
  },
  {
    namespaceId: 9,
    namespace: 'addons',
    table: 'addons',
    keyColumn: 'id',
    description: 'add-ons (database servers Berth keeps), keyed by add-on id',
  },
  {
    namespaceId: 10,
    namespace: 'addon_attachments',
    table: 'addon_attachments',
    keyColumn: 'app_id',
    description: 'the add-ons attached to an app, keyed by app id',
  },
  {
    namespaceId: 11,
    namespace: 'app_domains',
    table: 'app_domains',
    keyColumn: 'app_id',
    description: "an app's custom domains, keyed by app id",
  },
  {
    namespaceId: 12,
    namespace: 'app_maintenance',
    table: 'app_maintenance',
    keyColumn: 'app_id',
    description: 'whether an app is in maintenance mode, keyed by app id',
  },
  {
    namespaceId: 13,
    namespace: 'cron_schedules',
    table: 'cron_schedules',
    keyColumn: 'app_id',
    description: "an app's cron schedules, keyed by app id",
  },
  {
    namespaceId: 14,
    namespace: 'cron_runs',
    table: 'cron_runs',
    keyColumn: 'app_id',
    description: "the runs of an app's cron schedules, keyed by app id",
  },
]);

/** Looks a namespace up by name; throws for a name no table declares. */
export function watchedTable(namespace: string): WatchedTable {
  const found = watchedTables.find((t) => t.namespace === namespace);
  if (!found) throw new Error(`no watched table has the namespace '${namespace}'`);
  return found;
}
