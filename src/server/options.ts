import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WsSessionLimits } from '../api/index.js';
import type { ChangeStreamTuning } from '../changes/index.js';

/** A host and port to listen on. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export const Runtimes = ['process', 'container', 'kubernetes'] as const;
export const Routers = ['builtin', 'haproxy'] as const;

/** The server's options after parsing and validation: normalised and frozen. */
export interface ServerOptions {
  readonly dataDir: string;
  readonly listen: ListenAddress;
  readonly routerListen: ListenAddress;
  /** Git over SSH; undefined with `--ssh-listen off` (then ssh2 is never loaded). */
  readonly sshListen: ListenAddress | undefined;
  readonly domain: string;
  readonly runtime: (typeof Runtimes)[number];
  readonly router: (typeof Routers)[number];
  readonly databaseUrl: string | undefined;
  /** The container engine's socket (--engine-socket); else DOCKER_HOST, else the usual ones. */
  readonly engineSocket: string | undefined;
  /**
   * KEY=VALUE lines of proxies, CA files and npm/pip settings for builds (--build-env-file),
   * on top of those of the controller's own environment.
   */
  readonly buildEnvFile: string | undefined;
  /** The loopback ports the container runtime publishes units on (BERTH_CONTAINER_PORTS). */
  readonly containerPorts: { readonly from: number; readonly to: number };
  /** Containers get a read-only root file system (BERTH_CONTAINER_READ_ONLY=1). */
  readonly containerReadOnly: boolean;
  /** How many releases' images an app keeps; older ones are removed (BERTH_IMAGE_KEEP, default 5). */
  readonly imageKeep: number;
  /**
   * The container runtime's add-on server images (BERTH_POSTGRES_IMAGE, BERTH_REDIS_IMAGE);
   * unset: the official image if the engine has it, else Berth's own from `berth stacks build`.
   */
  readonly addonImages: { readonly postgres?: string; readonly redis?: string };
  /** How long a deployment claim lasts without a heartbeat (BERTH_DEPLOY_LEASE_MS). */
  readonly deployLeaseMs: number;
  /** How many tasks of different apps one controller runs at once (BERTH_DEPLOY_CONCURRENCY). */
  readonly deployConcurrency: number;
  /** Runs of a deploy step that fails retryably, the first included (BERTH_DEPLOY_RETRY_ATTEMPTS). */
  readonly deployRetryAttempts: number;
  /** The wait before a step's second run, four times longer each run after (BERTH_DEPLOY_RETRY_BASE_MS). */
  readonly deployRetryBaseMs: number;
  /** Fault injection for tests: a pause at every deployment step (BERTH_TEST_DEPLOY_STEP_DELAY_MS). */
  readonly deployStepDelayMs: number;
  /**
   * The payload bytes of events each deployment keeps; past it the oldest lines are dropped,
   * leaving a marker (--deploy-log-limit, default 4 MiB).
   */
  readonly deployLogLimitBytes: number;
  /** The largest bundle a deploy accepts, in bytes (BERTH_BUNDLE_LIMIT_BYTES, default 256 MiB). */
  readonly bundleLimit: number;
  /** The bound of one build (BERTH_BUILD_TIMEOUT_MS, default 10 minutes). */
  readonly buildTimeoutMs: number;
  /** The ports the process runtime gives its units (BERTH_UNIT_PORTS, default 20000-29999). */
  readonly unitPorts: { readonly from: number; readonly to: number };
  /** SIGTERM → SIGKILL grace of a stopping unit (BERTH_STOP_GRACE_MS, default 10 s). */
  readonly unitStopGraceMs: number;
  /** How long old units may finish their requests after a route switch (BERTH_DRAIN_TIMEOUT_MS). */
  readonly drainTimeoutMs: number;
  /** How long a stopping builtin router lets requests in flight finish (10 s). */
  readonly routerDrainMs: number;
  /** How long the builtin router waits for a silent upstream before it answers 504 (60 s). */
  readonly routerUpstreamTimeoutMs: number;
  /** How long a stopping deployer waits for its aborted tasks to record their end (10 s). */
  readonly taskDrainMs: number;
  /** How often the reconciler looks at the runtime although the store did not change (2 s). */
  readonly reconcileIntervalMs: number;
  /** How often scheduled backups look whether a slot has come (1 s: schedules name seconds). */
  readonly backupCheckIntervalMs: number;
  /** App cron (docs/cron.md): how often the worker looks for due slots, leases, time limit. */
  readonly cron: Readonly<{
    /** How often it looks whether a slot has come (1 s). */
    checkIntervalMs: number;
    /** A run's lease (60 s): a run of a controller that died is failed after it. */
    leaseMs: number;
    /** A run is killed after this long (BERTH_CRON_TIMEOUT_MS, 24 h). */
    runTimeoutMs: number;
    /** Tests only: the time cron reads (a clock the test moves); the system's otherwise. */
    clock?: () => Date;
  }>;
  /** How often router sync checks that the router still serves the latest table (3 s). */
  readonly routerCheckIntervalMs: number;
  /** How often the controller checks that its router process runs, and starts it again (2 s). */
  readonly routerWatchIntervalMs: number;
  /** The largest push git over HTTP or SSH passes to git, in bytes (1 GiB). */
  readonly gitMaxPushBytes: number;
  /** How long an SSH connection may take to authenticate before it is closed (30 s). */
  readonly sshAuthTimeoutMs: number;
  /** The largest JSON request body the API accepts, in bytes (1 MiB); bundles have bundleLimit. */
  readonly bodyLimit: number;
  /**
   * What one WebSocket API connection may do: 64 KiB per message, 32 subscriptions, 4 MiB
   * left unsent before it is cut off, 10 s to log in; its token is checked again every 30 s.
   */
  readonly websocketLimits: WsSessionLimits;
  /**
   * The change stream's reading: 5,000 rows per read, idle polls from 100 ms ×1.4 up to 10 s
   * (the fallback when no wake-up arrives), its position recorded at most every second, rows
   * every reader passed pruned every 30 s, a reader silent for 60 s counted dead.
   */
  readonly changeStream: ChangeStreamTuning;
  /** How long one request on the router's control socket may take (2 s). */
  readonly routerControlTimeoutMs: number;
  /**
   * Tries in all of a rollout the reconciler started that failed for another reason than its
   * release (the runtime did not answer), and the wait before the second (4× longer each
   * time after): 3 tries, 2 s then 8 s.
   */
  readonly rolloutRetry: { readonly attempts: number; readonly baseDelayMs: number };
  /** How long a new unit may take to listen on PORT (BERTH_STARTUP_TIMEOUT_MS, default 60 s). */
  readonly startupTimeoutMs: number;
  /** This machine's id in the store (BERTH_HOST_ID); default its /etc/machine-id. */
  readonly hostId: string | undefined;
}

/** The flags of `berth server` (docs/operations.md); each also reads BERTH_<FLAG>. */
export const serverFlags = [
  'data-dir',
  'listen',
  'router-listen',
  'ssh-listen',
  'domain',
  'runtime',
  'router',
  'database-url',
  'engine-socket',
  'build-env-file',
  'deploy-log-limit',
] as const;
export type ServerFlag = (typeof serverFlags)[number];

/** A flag or environment value that cannot be used; the message says which and why. */
export class OptionsError extends Error {
  override readonly name = 'OptionsError';
  readonly code = 'INVALID_OPTION';
}

export function envName(flag: ServerFlag): string {
  return `BERTH_${flag.toUpperCase().replaceAll('-', '_')}`;
}

function parseListen(flag: ServerFlag, value: string): ListenAddress {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port > 65535) {
    throw new OptionsError(
      `--${flag} must be HOST:PORT with a port from 0 to 65535, got '${value}'`,
    );
  }
  return Object.freeze({ host: match[1].replace(/^\[|\]$/g, ''), port });
}

/**
 * The runtimes and routers this version has. The contract names more (`kubernetes`,
 * `haproxy`); asking for one of those is refused at once, never quietly served by another.
 */
const BuiltRuntimes: readonly (typeof Runtimes)[number][] = ['process', 'container'];
const BuiltRouters: readonly (typeof Routers)[number][] = ['builtin'];

function built<T extends string>(flag: ServerFlag, value: T, available: readonly T[]): T {
  if (!available.includes(value)) {
    throw new OptionsError(
      `--${flag} ${value} is not available in this version; use ${available.join(' or ')}`,
    );
  }
  return value;
}

/** HOST:PORT, or `off` for a listener the controller does without. */
function optionalListen(flag: ServerFlag, value: string): ListenAddress | undefined {
  return value === 'off' ? undefined : parseListen(flag, value);
}

function oneOf<T extends string>(flag: ServerFlag, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new OptionsError(`--${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * `~/.berth`; for root, `/var/lib/berth` unless `~/.berth` already holds a Berth. A root
 * controller runs each app as a user of its own, which must be able to pass through the data
 * dir's parents to reach its releases, and root's home is private (0700) on most systems.
 */
export function defaultDataDir(): string {
  const home = path.join(os.homedir(), '.berth');
  if (process.getuid?.() !== 0 || existsSync(home)) return home;
  return '/var/lib/berth';
}

/**
 * Turns flags (which win) and BERTH_* environment variables into ServerOptions, applying the
 * defaults documented in docs/operations.md: the only place they are written.
 */
export function compileServerOptions(
  flags: Partial<Record<ServerFlag, string>>,
  env: NodeJS.ProcessEnv = process.env,
): ServerOptions {
  const get = (flag: ServerFlag, fallback: string): string => {
    const value = flags[flag] ?? env[envName(flag)];
    return value === undefined || value === '' ? fallback : value;
  };
  const dataDir = path.resolve(get('data-dir', defaultDataDir()));
  const databaseUrl = get('database-url', '') || undefined;
  if (databaseUrl !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(databaseUrl).protocol;
    } catch {
      throw new OptionsError(
        '--database-url is not a URL; expected postgres://USER:PASSWORD@HOST:PORT/DB',
      );
    }
    if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
      throw new OptionsError(`--database-url must be a postgres:// URL, got a ${protocol}// URL`);
    }
  }
  const domain = get('domain', 'localhost').toLowerCase();
  if (!DOMAIN.test(domain)) throw new OptionsError(`--domain '${domain}' is not a valid DNS name`);
  return Object.freeze({
    dataDir,
    listen: parseListen('listen', get('listen', '127.0.0.1:7100')),
    routerListen: parseListen('router-listen', get('router-listen', '127.0.0.1:7180')),
    sshListen: optionalListen('ssh-listen', get('ssh-listen', '127.0.0.1:7122')),
    domain,
    runtime: built('runtime', oneOf('runtime', get('runtime', 'process'), Runtimes), BuiltRuntimes),
    router: built('router', oneOf('router', get('router', 'builtin'), Routers), BuiltRouters),
    databaseUrl,
    engineSocket: get('engine-socket', '') || undefined,
    buildEnvFile: optionalPath(get('build-env-file', '')),
    containerPorts: parsePortRange(
      env['BERTH_CONTAINER_PORTS'] || '30000-39999',
      'BERTH_CONTAINER_PORTS',
    ),
    containerReadOnly: envFlag(env, 'BERTH_CONTAINER_READ_ONLY'),
    imageKeep: envInteger(env, 'BERTH_IMAGE_KEEP', 5, 1, 1000),
    addonImages: Object.freeze({
      ...imageOption(env, 'BERTH_POSTGRES_IMAGE', 'postgres'),
      ...imageOption(env, 'BERTH_REDIS_IMAGE', 'redis'),
    }),
    deployLeaseMs: envMilliseconds(env, 'BERTH_DEPLOY_LEASE_MS', 15_000, 200),
    deployRetryAttempts: envInteger(env, 'BERTH_DEPLOY_RETRY_ATTEMPTS', 3, 1, 10),
    deployRetryBaseMs: envMilliseconds(env, 'BERTH_DEPLOY_RETRY_BASE_MS', 1000, 0),
    deployStepDelayMs: envMilliseconds(env, 'BERTH_TEST_DEPLOY_STEP_DELAY_MS', 0, 0),
    deployConcurrency: envInteger(env, 'BERTH_DEPLOY_CONCURRENCY', 2, 1, 64),
    deployLogLimitBytes: parseSize('deploy-log-limit', get('deploy-log-limit', '4MiB'), {
      min: 16 * 1024,
      max: 1024 ** 3,
    }),
    buildTimeoutMs: envMilliseconds(env, 'BERTH_BUILD_TIMEOUT_MS', 600_000, 1000),
    unitPorts: parsePortRange(env['BERTH_UNIT_PORTS'] || '20000-29999', 'BERTH_UNIT_PORTS'),
    unitStopGraceMs: envMilliseconds(env, 'BERTH_STOP_GRACE_MS', 10_000, 0),
    drainTimeoutMs: envMilliseconds(env, 'BERTH_DRAIN_TIMEOUT_MS', 30_000, 0),
    // Fixed: no one has needed to tune these, so they have no variable (docs/operations.md).
    routerDrainMs: 10_000,
    routerUpstreamTimeoutMs: 60_000,
    taskDrainMs: 10_000,
    reconcileIntervalMs: 2000,
    backupCheckIntervalMs: 1000,
    cron: Object.freeze({
      checkIntervalMs: 1000,
      leaseMs: 60_000,
      runTimeoutMs: envMilliseconds(env, 'BERTH_CRON_TIMEOUT_MS', 24 * 3_600_000, 1000),
    }),
    routerCheckIntervalMs: 3000,
    routerWatchIntervalMs: 2000,
    gitMaxPushBytes: 1024 ** 3,
    sshAuthTimeoutMs: 30_000,
    bodyLimit: 1024 * 1024,
    websocketLimits: Object.freeze({
      maxMessageBytes: 64 * 1024,
      loginTimeoutMs: 10_000,
      maxSubscriptions: 32,
      maxBufferedBytes: 4 * 1024 * 1024,
      recheckTokenMs: 30_000,
    }),
    routerControlTimeoutMs: 2_000,
    changeStream: Object.freeze({
      batchSize: 5_000,
      backoff: Object.freeze({ initialMs: 100, factor: 1.4, maxMs: 10_000 }),
      witnessIntervalMs: 1_000,
      pruneIntervalMs: 30_000,
      witnessTtlMs: 60_000,
    }),
    rolloutRetry: Object.freeze({ attempts: 3, baseDelayMs: 2000 }),
    startupTimeoutMs: envMilliseconds(env, 'BERTH_STARTUP_TIMEOUT_MS', 60_000, 500),
    hostId: envHostId(env),
    bundleLimit: envInteger(
      env,
      'BERTH_BUNDLE_LIMIT_BYTES',
      256 * 1024 * 1024,
      1024,
      16 * 1024 ** 3,
    ),
  });
}

/** BERTH_HOST_ID: a name of up to 128 printable characters without spaces, or unset. */
function envHostId(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env['BERTH_HOST_ID'];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[\x21-\x7e]{1,128}$/.test(raw)) {
    throw new OptionsError(
      `BERTH_HOST_ID must be 1 to 128 printable characters without spaces, got '${raw}'`,
    );
  }
  return raw;
}

/** The units a size may be written in, largest first. */
const SIZE_UNITS = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
  ['B', 1],
] as const;

/** A size in bytes: `4194304`, `512KiB`, `4MiB`, `1GiB` (any case), within the bounds. */
function parseSize(
  flag: ServerFlag,
  value: string,
  bounds: { readonly min: number; readonly max: number },
): number {
  const match = /^(\d+) ?([a-z]*)$/i.exec(value.trim());
  const suffix = (match?.[2] || 'B').toLowerCase();
  const unit = SIZE_UNITS.find(([name]) => name.toLowerCase() === suffix)?.[1];
  const bytes = unit === undefined ? NaN : Number(match?.[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes < bounds.min || bytes > bounds.max) {
    throw new OptionsError(
      `--${flag} must be a size from ${formatSize(bounds.min)} to ${formatSize(bounds.max)} ` +
        `(bytes, or a number with KiB, MiB or GiB), got '${value}'`,
    );
  }
  return bytes;
}

/** Bytes in the largest unit that divides them: `16KiB`, `1GiB`. */
function formatSize(bytes: number): string {
  const [name, unit] = SIZE_UNITS.find(([, size]) => bytes % size === 0) ?? ['B', 1];
  return name === 'B' ? String(bytes) : `${bytes / unit}${name}`;
}

/** An absolute path, or undefined for an empty value. */
function optionalPath(value: string): string | undefined {
  return value === '' ? undefined : path.resolve(value);
}

/** `FROM-TO`, a range of at least 16 unprivileged ports. */
function parsePortRange(value: string, name: string): { from: number; to: number } {
  const match = /^(\d{4,5})-(\d{4,5})$/.exec(value);
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1024 || to > 65535 || to - from < 15) {
    throw new OptionsError(
      `${name} must be FROM-TO with 1024 <= FROM, TO <= 65535 and 16 ports or more, got '${value}'`,
    );
  }
  return Object.freeze({ from, to });
}

/** A yes/no from the environment: 1/true/yes or 0/false/no (or unset). */
function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new OptionsError(`${name} must be 1 or 0 (true/false, yes/no), got '${env[name]}'`);
}

/** An image reference from the environment, as `{[key]: ref}`, or nothing when unset. */
function imageOption(
  env: NodeJS.ProcessEnv,
  name: string,
  key: 'postgres' | 'redis',
): { postgres?: string; redis?: string } {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return {};
  if (!/^[a-z0-9][a-z0-9._/:@-]{0,254}$/i.test(raw)) {
    throw new OptionsError(`${name} must be an image reference such as postgres:16, got '${raw}'`);
  }
  return { [key]: raw };
}

/** A whole number from the environment (tuning knobs without a flag). */
function envInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  minimum: number,
  maximum: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw new OptionsError(
      `${name} must be a whole number from ${minimum} to ${maximum}, got '${raw}'`,
    );
  }
  return value;
}

/** A duration in milliseconds from the environment, at most an hour. */
function envMilliseconds(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  minimum: number,
): number {
  return envInteger(env, name, fallback, minimum, 3_600_000);
}
/** The database URL with its password hidden, for logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
