// The store's schema history and the runner that applies it and checks the live schema.
// Migrations are numbered, checksummed, and never edited once landed.
import { changeLogMigration } from './0001-change-log.js';
import { identityMigration } from './0002-identity.js';
import { appsConfigAuditMigration } from './0003-apps-config-audit.js';
import { deploymentsReleasesMigration } from './0004-deployments-releases.js';
import { formationRoutesMigration } from './0005-formation-routes.js';
import { sshKeysMigration } from './0006-ssh-keys.js';
import { appUnixIdsMigration } from './0007-app-unix-ids.js';
import { deploymentEventsMigration } from './0008-deployment-events.js';
import { processCommandsMigration } from './0010-process-commands.js';
import { dataPlaneHostMigration } from './0009-data-plane-host.js';
import { addonsMigration } from './0011-addons.js';
import { domainsMaintenanceMigration } from './0012-domains-maintenance.js';
import { cronMigration } from './0013-cron.js';
import type { Migration } from './migration.js';

export {
  migrateStore,
  SchemaAlteredError,
  SchemaTooNewError,
  type MigrationOutcome,
} from './runner.js';
export type { Migration, MigrationContext } from './migration.js';

/** Every migration, in order. Append only. */
export const migrations: readonly Migration[] = Object.freeze([
  changeLogMigration,
  identityMigration,
  appsConfigAuditMigration,
  deploymentsReleasesMigration,
  formationRoutesMigration,
  sshKeysMigration,
  appUnixIdsMigration,
  deploymentEventsMigration,
  dataPlaneHostMigration,
  processCommandsMigration,
  addonsMigration,
  domainsMaintenanceMigration,
  cronMigration,
]);
