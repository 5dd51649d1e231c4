// What a runtime does for add-ons: it creates a database server once, keeps it running, and
// removes it only when told. The add-ons domain (src/domain/addons) decides what exists; a
// runtime's AddonServers make it so on that runtime.

/** The kinds of add-on Berth makes. */
export const ADDON_KINDS = ['postgres', 'redis'] as const;
export type AddonKind = (typeof ADDON_KINDS)[number];

/** What a server is made with: chosen by the domain at creation and kept. */
export interface AddonCredentials {
  /** The role (PostgreSQL); Redis has only a password. */
  readonly user: string;
  readonly password: string;
  /** The database (PostgreSQL); Redis uses database 0. */
  readonly database: string;
}

/** One add-on's server as the runtime needs to know it. */
export interface AddonServerSpec {
  /** The add-on's name: unique, `^[a-z][a-z0-9-]{0,38}$`; it names its storage. */
  readonly name: string;
  readonly kind: AddonKind;
  /** The unprivileged uid its server runs as, where the runtime runs servers as users. */
  readonly uid: number;
  readonly credentials: AddonCredentials;
  /** The apps it is attached to, by name (the container runtime joins their networks). */
  readonly apps?: readonly string[];
}

/** Where a running server accepts connections, and what it is. */
export interface AddonEndpoint {
  readonly host: string;
  readonly port: number;
  /** The server's major version, e.g. '15' or '7.0'. */
  readonly version: string;
}

/** What a runtime reports of one add-on's server. */
export interface AddonServerStatus {
  /** As a unit's state, or 'absent' when the runtime has no server of that name. */
  readonly state: 'starting' | 'running' | 'restarting' | 'crashed' | 'stopped' | 'absent';
  readonly restarts: number;
  /** Bytes its data takes, when the runtime can tell. */
  readonly sizeBytes?: number;
}

/**
 * A runtime's add-on servers. Servers outlive the controller, as units do: a new controller
 * calls `ensureRunning` for each add-on and adopts the ones still running.
 */
export interface AddonServers {
  /**
   * Why `kind` cannot be made on this machine (a missing package, a root-only setup), or
   * undefined when it can.
   */
  unavailable(kind: AddonKind): Promise<string | undefined>;
  /**
   * Makes the server's storage and starts it on a port of the runtime's choosing, and
   * resolves once it accepts connections with `spec.credentials`. A failure removes what it
   * made. A name whose storage exists is refused: creation happens once.
   */
  create(spec: AddonServerSpec): Promise<AddonEndpoint>;
  /**
   * Starts the server on `port` unless it runs (a controller started after `berth down`,
   * a crash it gave up on); resolves once it accepts connections.
   */
  ensureRunning(spec: AddonServerSpec, port: number): Promise<AddonEndpoint>;
  status(name: string): Promise<AddonServerStatus>;
  /**
   * Writes a backup of the server's data to `file`: PostgreSQL's custom format (pg_dump), a
   * Redis RDB snapshot. Rejects when the server could not produce one.
   */
  backup(spec: AddonServerSpec, port: number, file: string): Promise<void>;
  /**
   * Why `file` is not a readable backup for the server of `spec` (pg_restore --list,
   * redis-check-rdb, run where that server's own tools are), or undefined.
   */
  checkBackup(spec: AddonServerSpec, file: string): Promise<string | undefined>;
  /**
   * Replaces the server's data with the backup in `file` (checked first by the caller). A
   * restore that fails leaves the data as it was and the server running.
   */
  restore(spec: AddonServerSpec, port: number, file: string): Promise<void>;
  /**
   * Where apps reach the server: the runtime's address for them (a loopback port, a name on
   * the app's network). Absent: where the controller reaches it (host and port as created).
   */
  address?(name: string, kind: AddonKind, port: number): { host: string; port: number };
  /** The add-on was attached to `app`: make it reachable from the app's units. */
  attached?(name: string, app: string): Promise<void>;
  /** The add-on was detached from `app` (or the app is going): undo `attached`. */
  detached?(name: string, app: string): Promise<void>;
  /** Stops the server and keeps its data. */
  stop(name: string): Promise<void>;
  /** Stops the server and removes its data: only an explicit destroy calls it. */
  destroy(name: string): Promise<void>;
}
