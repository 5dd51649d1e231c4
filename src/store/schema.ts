import type { Generated } from 'kysely';

/** The change log (Juju 4 design): one row per changed row of a watched table. */
export interface ChangeLogTable {
  id: Generated<number>;
  edit_type_id: number;
  namespace_id: number;
  changed: string;
}

export interface ChangeLogNamespaceTable {
  id: number;
  namespace: string;
  description: string;
}

export interface ChangeLogEditTypeTable {
  id: number;
  edit_type: string;
}

/**
 * Where each change-stream reader has got to. Rows below every live reader's lower bound
 * may be pruned. The bounds' meaning is the dialect's (a change_log id on SQLite, a
 * transaction-id floor on PostgreSQL).
 */
export interface ChangeLogWitnessTable {
  reader_id: string;
  lower_bound: string;
  upper_bound: string;
  updated_at: string;
}

export interface SchemaMigrationTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: string;
}

export interface SchemaStateTable {
  id: number;
  fingerprint: string;
  updated_at: string;
}

export interface AppTable {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

/** Every table of the controller's store, as Kysely sees it. */
export interface Database {
  change_log: ChangeLogTable;
  change_log_namespace: ChangeLogNamespaceTable;
  change_log_edit_type: ChangeLogEditTypeTable;
  change_log_witness: ChangeLogWitnessTable;
  berth_schema_migrations: SchemaMigrationTable;
  berth_schema_state: SchemaStateTable;
  apps: AppTable;
}
