// The runtime driver contract: what every runtime (process, container, kubernetes) does for
// Berth. Drivers share this contract and its test suite (test/runtime/contract.ts), never code.

/**
 * What a unit runs: a command line of the app's own (Procfile), an argument vector, or the
 * image's own ENTRYPOINT and CMD (a Dockerfile app; image artifacts only).
 */
export type UnitCommand =
  | { readonly kind: 'shell'; readonly line: string }
  | { readonly kind: 'exec'; readonly argv: readonly string[] }
  | { readonly kind: 'image' };

/** The built release a unit runs from. */
export type UnitArtifact =
  | { readonly kind: 'directory'; readonly path: string }
  | { readonly kind: 'image'; readonly ref: string };

/** Restarts of a unit whose process exits on its own. */
export interface RestartPolicy {
  /** Consecutive restarts after which the unit is left `crashed`. */
  readonly maxRestarts: number;
  /** The first delay before a restart; it doubles per consecutive crash up to `maxBackoffMs`. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** A process that ran this long before it exited resets the consecutive-crash count. */
  readonly resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({
  maxRestarts: 5,
  backoffMs: 250,
  maxBackoffMs: 10_000,
  resetAfterMs: 30_000,
});

/** Resource limits of one unit; a driver that cannot enforce one says so in its docs. */
export interface UnitLimits {
  readonly memoryBytes?: number;
  /** CPUs, e.g. 0.5. */
  readonly cpus?: number;
}

/**
 * Whom an app's processes run as, where a runtime keeps apps apart by operating-system user
 * (the process runtime as root): the app's own uid (its gid is the same number), and its id,
 * which names its private directories (never its name, which a new app may take again).
 */
export interface AppAccount {
  readonly appId: string;
  readonly uid: number;
}

/** One unit: one instance of one process type of one release of an app. */
export interface UnitSpec {
  /** Unique in the runtime, chosen by the caller: `^[a-z0-9][a-z0-9-]{0,99}$`. */
  readonly id: string;
  readonly app: string;
  readonly release: number;
  readonly processType: string;
  /** 1, 2, … within the process type. */
  readonly index: number;
  readonly command: UnitCommand;
  readonly artifact: UnitArtifact;
  /**
   * Config vars (and PATH additions of the build). The driver adds PORT, BERTH_APP,
   * BERTH_RELEASE, BERTH_PROCESS and BERTH_UNIT, which the caller may not set.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly restart: RestartPolicy;
  readonly limits?: UnitLimits;
  /** Required by a runtime that isolates apps by user; ignored by the others. */
  readonly account?: AppAccount;
}

/**
 * starting: spawned, not yet known to be up · running · restarting: exited, a restart is
 * scheduled · crashed: exited too often, no more restarts · stopping · stopped: ended by stop()
 * · lost: the driver's record exists but nothing supervises the unit any more.
 */
export type UnitState =
  'starting' | 'running' | 'restarting' | 'crashed' | 'stopping' | 'stopped' | 'lost';

/** How a unit's process last ended. */
export interface UnitExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly at: string;
  /** Set when the driver knows more, e.g. 'oom'. */
  readonly reason?: string;
}

/** A unit as the runtime sees it now. */
export interface UnitStatus {
  readonly id: string;
  readonly app: string;
  readonly release: number;
  readonly processType: string;
  readonly index: number;
  readonly state: UnitState;
  /** Where the unit's PORT is reachable from this machine (loopback for the process runtime). */
  readonly address: { readonly host: string; readonly port: number };
  /** When the unit was first started (ISO-8601 UTC). */
  readonly startedAt: string;
  readonly restarts: number;
  readonly lastExit?: UnitExit;
  /** The limits the unit runs under; absent where the driver enforces none (process). */
  readonly limits?: UnitLimits;
}

/** One line of a unit's output, or a line the runtime wrote about the unit ('system'). */
export interface LogLine {
  /** ISO-8601 UTC with milliseconds, when the line was read. */
  readonly at: string;
  readonly app: string;
  readonly release: number;
  readonly processType: string;
  readonly index: number;
  readonly unitId: string;
  readonly stream: 'stdout' | 'stderr' | 'system';
  /** Without its newline; a very long line is cut and ends with '…'. */
  readonly text: string;
}

export interface LogQuery {
  readonly app: string;
  /** The last N lines (oldest first); default 100. */
  readonly tail?: number;
  readonly processType?: string;
}

/** A one-off process of a release (`berth run`): not restarted, not routed. */
export interface OneOffSpec {
  /** Unique in the runtime, like a unit id. */
  readonly id: string;
  readonly app: string;
  readonly release: number;
  readonly command: UnitCommand;
  readonly artifact: UnitArtifact;
  readonly env: Readonly<Record<string, string>>;
  /** Killed (every process it started) after this long. */
  readonly timeoutMs: number;
  /** As in UnitSpec. */
  readonly account?: AppAccount;
  /** As a unit's; the process runtime enforces them on one-offs too. */
  readonly limits?: UnitLimits;
}

export interface OneOffResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** stdout and stderr interleaved as read, at most the last 1 MiB. */
  readonly output: string;
  /** True when the output was longer than what `output` keeps. */
  readonly truncated: boolean;
}

/**
 * A runtime's driver. Units outlive the controller: destroy() releases the driver's own
 * resources and leaves units running, and a new driver on the same runtime lists (adopts) them.
 */
export interface Driver {
  /** 'process', 'container', 'kubernetes'. */
  readonly kind: string;
  init(): Promise<void>;
  /** Starts a unit and returns once it is spawned (not once it answers: see checkHealth). */
  start(spec: UnitSpec): Promise<UnitStatus>;
  /**
   * Stops a unit: SIGTERM to all its processes, `graceMs`, then SIGKILL; resolves when it is
   * gone and forgotten. Stopping an unknown or stopped unit is not an error.
   */
  stop(unitId: string, options: { readonly graceMs: number }): Promise<void>;
  /** The units the runtime holds, optionally of one app, sorted by app, type and index. */
  list(filter?: { readonly app?: string }): Promise<UnitStatus[]>;
  readLogs(query: LogQuery): Promise<LogLine[]>;
  /** Calls `onLine` for each new line of the app's units until `signal` aborts. */
  followLogs(query: LogQuery, onLine: (line: LogLine) => void, signal: AbortSignal): Promise<void>;
  /** Runs a one-off process to its end (or timeout, or abort) and returns its output. */
  run(
    spec: OneOffSpec,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<OneOffResult>;
  /**
   * Removes everything of an app from the runtime: every unit stopped, every process the app
   * left killed, its logs and private files deleted, so that a new app of the same name starts
   * empty. Resolves once all of it is gone; removing an app the runtime never saw is no error.
   */
  removeApp(app: string, account?: AppAccount): Promise<void>;
  destroy(): Promise<void>;
}
