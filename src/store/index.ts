// The controller's store: Kysely over SQLite (embedded) or PostgreSQL (shared), with migrations,
// a retrying transaction runner and the trigger-written change log. Dialect SQL lives in dialect/.
export { openStore, SQLITE_FILE, type Store, type StoreOptions } from './store.js';
export type {
  AddonAttachmentTable,
  AddonBackupTable,
  AddonTable,
  ApiTokenTable,
  AppDomainTable,
  AppMaintenanceTable,
  ArtifactTable,
  CronRunLeaseTable,
  CronRunTable,
  CronScheduleTable,
  DeploymentEventTable,
  DeploymentLeaseTable,
  DeploymentStatus,
  DeploymentTable,
  FormationTable,
  LiveReleaseTable,
  ProcessConfigTable,
  ReleaseTable,
  RouteTableRow,
  SshKeyTable,
  AppTable,
  AuditLogTable,
  ConfigVarTable,
  Database,
  DataPlaneHostTable,
  UnitPortTable,
  UserTable,
} from './schema.js';
export type {
  ChangeLogDialect,
  ChangeLogReader,
  DialectName,
  IsolationLevel,
  RawChange,
} from './dialect.js';
export { DialectNames } from './dialect.js';
export {
  defaultRetryPolicy,
  NestedTransactionError,
  TransactionRetriesExhaustedError,
  type RetryPolicy,
  type TransactOptions,
  type TransactionWork,
} from './transaction.js';
export {
  SchemaAlteredError,
  SchemaTooNewError,
  migrations,
  type Migration,
} from './migrations/index.js';
export { watchedTable, watchedTables, type WatchedTable } from './watched-tables.js';
export { isUniqueViolation } from './constraint-errors.js';
