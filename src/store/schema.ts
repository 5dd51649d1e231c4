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

export interface UserTable {
  id: string;
  username: string;
  /** argon2id, in its PHC string form. */
  password_hash: string;
  /** 0 or 1 (portable boolean). */
  is_admin: number;
  created_at: string;
  updated_at: string;
}

export interface ApiTokenTable {
  id: string;
  user_id: string;
  name: string;
  /** SHA-256 of the token, hex. The token itself is shown once and never stored. */
  token_hash: string;
  /** Space-separated scope names, sorted. */
  scopes: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface AppTable {
  id: string;
  name: string;
  /** The user who created the app. */
  owner_id: string;
  created_at: string;
  updated_at: string;
}

/** The uid each app's processes run as on the process runtime; rows outlive their app. */
export interface AppUnixIdTable {
  uid: number;
  app_id: string;
  created_at: string;
}

export interface ConfigVarTable {
  app_id: string;
  key: string;
  /** The encrypted value (src/secrets envelope, JSON). */
  envelope: string;
  created_at: string;
  updated_at: string;
}

export interface AuditLogTable {
  id: string;
  at: string;
  actor_id: string | null;
  actor_name: string | null;
  token_id: string | null;
  /** What was attempted, e.g. 'POST /api/v1/apps'. */
  action: string;
  /** What it concerned, e.g. an app name; never a secret. */
  target: string | null;
  outcome: 'success' | 'failure';
  status: number;
  request_id: string | null;
  detail: string | null;
}

export interface ArtifactTable {
  /** The content digest (sha256 hex) of the extracted tree. */
  id: string;
  size_bytes: number;
  file_count: number;
  created_at: string;
}

export type DeploymentStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface DeploymentTable {
  id: string;
  app_id: string;
  /** 'deploy' or 'undeploy'. */
  kind: string;
  status: DeploymentStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** 'bundle' or 'git'. */
  source_kind: string;
  source_ref: string | null;
  source_sha: string | null;
  /** The size of the uploaded bundle held in bundle_chunks until the task has read it. */
  bundle_bytes: number | null;
  /** JSON: the task's options, e.g. {"autoconfigure":true}. */
  options: string;
  current_step: string | null;
  /** JSON: [{name, status, startedAt, finishedAt}]. */
  steps: string;
  /**
   * The step log of tasks from before migration 8; newer tasks write deployment_events and
   * leave this empty.
   */
  log: string;
  error: string | null;
  /** JSON: {processType: message | null}. */
  process_errors: string | null;
  /** JSON: the bundle's berth.json metadata (name, description, author, version). */
  project_metadata: string | null;
  stack: string | null;
  release_version: number | null;
  cancel_requested: number;
}

export interface BundleChunkTable {
  deployment_id: string;
  seq: number;
  data: Uint8Array;
}

/** One event of a task's progress; `id` is the cursor followers read after. */
export interface DeploymentEventTable {
  /** PostgreSQL returns this BIGINT as a string; readers convert it with Number(). */
  id: Generated<number>;
  deployment_id: string;
  step: string | null;
  at: string;
  /** step-started | line | step-finished | finished | trimmed */
  kind: string;
  /** JSON: the kind's fields, e.g. {"text": "..."} for a line. */
  payload: string;
  /** The payload's size in UTF-8 bytes, counted against the per-task limit. */
  bytes: number;
}

export interface DeploymentLeaseTable {
  deployment_id: string;
  /** The controller (change-stream reader id) that holds the task. */
  owner: string;
  expires_at: string;
}

export interface ReleaseTable {
  id: string;
  app_id: string;
  version: number;
  artifact_id: string | null;
  stack: string | null;
  /** JSON: {processType: {kind: 'command', line} | {kind: 'static'} | {kind: 'image'}}. */
  processes: string;
  /** JSON: {processType: count}. */
  formation: string;
  /** The config snapshot, sealed (src/secrets) with the release as associated data. */
  config_envelope: string;
  description: string;
  deployment_id: string | null;
  created_at: string;
}

export interface ProcessConfigTable {
  app_id: string;
  process_type: string;
  /** JSON {KEY: value} sealed with src/secrets. */
  envelope: string;
  updated_at: string;
}

export interface FormationTable {
  app_id: string;
  process_type: string;
  count: number;
  memory_bytes: number | null;
  /** Thousandths of a CPU, so 0.5 CPU is 500. */
  cpu_millis: number | null;
  updated_at: string;
}

export interface LiveReleaseTable {
  app_id: string;
  /** The release that serves; null after its units were stopped. */
  version: number | null;
  failed_version: number | null;
  failure: string | null;
  updated_at: string;
}

export interface RouteTableRow {
  app_id: string;
  app_name: string;
  /** JSON of the router's RouteTarget. */
  target: string;
  updated_at: string;
}

export interface SshKeyTable {
  id: string;
  user_id: string;
  name: string;
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, … */
  type: string;
  /** The key as an authorized_keys line without options or comment: `<type> <base64>`. */
  public_key: string;
  /** `SHA256:<base64 without padding>` of the key blob, as OpenSSH prints it. */
  fingerprint: string;
  created_at: string;
}

/** The host the store's units live on (one row, id 1), recorded by the first controller. */
export interface DataPlaneHostTable {
  id: number;
  /** The host's identity: BERTH_HOST_ID, else /etc/machine-id, else `hostname:<name>`. */
  host_id: string;
  /** The host's name when it was recorded, for messages. */
  host_name: string;
  recorded_at: string;
}

/** A port a unit holds on a host; (host_id, port) is the key that keeps ports apart. */
export interface UnitPortTable {
  host_id: string;
  port: number;
  /** The runtime root that holds the unit (its units directory or container label). */
  owner: string;
  unit_id: string;
  claimed_at: string;
}

/** An add-on: a database server Berth created once and keeps. */
export interface AddonTable {
  id: string;
  /** Unique, like an app's name. */
  name: string;
  /** 'postgres' | 'redis'. */
  kind: string;
  /** The server's major version, as the server reports it (e.g. '15', '7.0'). */
  version: string;
  owner_id: string;
  /** The unprivileged uid its server runs as on the process runtime. */
  uid: number;
  /** The port its server listens on, chosen once. */
  port: number;
  /** JSON of { user, password, database }, sealed for the add-on's id. */
  credentials: string;
  /** `hourly`, `daily`, `weekly` or cron fields (UTC); null: no scheduled backups. */
  backup_schedule: string | null;
  /** Succeeded backups the schedule keeps. */
  backup_retain: number | null;
  /** When the schedule was set: its first slot comes after. */
  backup_schedule_since: string | null;
  created_at: string;
}

/** An add-on attached to an app, as `<alias>_URL`. */
export interface AddonAttachmentTable {
  addon_id: string;
  app_id: string;
  alias: string;
  created_at: string;
}

/** A backup of an add-on, its file under `<data-dir>/backups/<addon>/<name>`. */
export interface AddonBackupTable {
  id: string;
  addon_id: string;
  /** Unique per add-on, e.g. `b-20261203T122000Z`. */
  name: string;
  /** The add-on's kind when it was made: a backup restores into that kind only. */
  kind: string;
  /** 'running' | 'succeeded' | 'failed'. */
  status: string;
  size_bytes: number | null;
  sha256: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

/** A custom host of an app: exact, or a one-label wildcard (`*.example.com`). */
export interface AppDomainTable {
  /** Lower-case, punycode, no trailing dot; the key, so a host belongs to one app. */
  host: string;
  app_id: string;
  created_at: string;
}

/** An app in maintenance mode: its hosts answer 503 with the message while the row exists. */
export interface AppMaintenanceTable {
  app_id: string;
  message: string | null;
  started_at: string;
}

/** An app's scheduled command, from its live release's manifests (app.json, berth.json). */
export interface CronScheduleTable {
  app_id: string;
  id: string;
  command: string;
  /** Five cron fields or a macro, UTC. */
  schedule: string;
  /** allow, forbid or replace. */
  concurrency_policy: string;
  /** 1: kept and listed, never run on its schedule (Dokku's `maintenance`). */
  maintenance: number;
  /** 1: suspended by hand; kept by id across deploys. */
  suspended: number;
  /** The release whose manifests declared it. */
  release: number;
  /** When the schedule took effect: its first slot comes after this. */
  since: string;
  updated_at: string;
}

/** One run of a cron schedule; the slot is unique per schedule, so a slot runs once. */
export interface CronRunTable {
  id: string;
  app_id: string;
  schedule_id: string;
  /** ISO-8601; null for a run by hand. */
  slot: string | null;
  /** schedule, catch-up or manual. */
  trigger: string;
  /** running, succeeded, failed, skipped or stopped. */
  status: string;
  command: string;
  release: number | null;
  /** 1: a newer run (concurrency_policy replace) asked it to stop. */
  stop_requested: number;
  started_at: string;
  finished_at: string | null;
  exit_code: number | null;
  signal: string | null;
  /** The output's tail. */
  output: string;
  error: string | null;
}

/** The lease of a running cron run, renewed by its controller (unwatched). */
export interface CronRunLeaseTable {
  run_id: string;
  expires_at: string;
}

/** Every table of the controller's store, as Kysely sees it. */
export interface Database {
  change_log: ChangeLogTable;
  change_log_namespace: ChangeLogNamespaceTable;
  change_log_edit_type: ChangeLogEditTypeTable;
  change_log_witness: ChangeLogWitnessTable;
  berth_schema_migrations: SchemaMigrationTable;
  berth_schema_state: SchemaStateTable;
  users: UserTable;
  api_tokens: ApiTokenTable;
  apps: AppTable;
  app_unix_ids: AppUnixIdTable;
  config_vars: ConfigVarTable;
  audit_log: AuditLogTable;
  artifacts: ArtifactTable;
  deployments: DeploymentTable;
  deployment_leases: DeploymentLeaseTable;
  deployment_events: DeploymentEventTable;
  bundle_chunks: BundleChunkTable;
  releases: ReleaseTable;
  process_configs: ProcessConfigTable;
  formations: FormationTable;
  live_releases: LiveReleaseTable;
  routes: RouteTableRow;
  ssh_keys: SshKeyTable;
  data_plane_host: DataPlaneHostTable;
  unit_ports: UnitPortTable;
  addons: AddonTable;
  addon_attachments: AddonAttachmentTable;
  addon_backups: AddonBackupTable;
  app_domains: AppDomainTable;
  app_maintenance: AppMaintenanceTable;
  cron_schedules: CronScheduleTable;
  cron_runs: CronRunTable;
  cron_run_leases: CronRunLeaseTable;
}
