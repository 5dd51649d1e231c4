import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
  copyFile,
} from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConflictError, ErrorCodes } from '../../errors/index.js';
import {
  POSTGRES_SUPERUSER,
  postgresAccepts,
  redisAccepts,
  redisAppendOnlyOn,
} from '../addon-clients.js';
import type {
  AddonEndpoint,
  AddonKind,
  AddonServers,
  AddonServerSpec,
  AddonServerStatus,
} from '../addons.js';
import type { AppAccount, RestartPolicy, UnitSpec, UnitStatus } from '../driver.js';
import type { PortClaims, PortRange } from '../ports/index.js';
import { RuntimeDriver } from '../runtime-driver.js';
import {
  claimPostgresCluster,
  READY_POLL_MS,
  READY_TIMEOUT_MS,
  untilAccepting,
} from './addon-readiness.js';
import { AppSandboxes, executable, type ProcessIsolation } from './app-sandbox.js';
import { ProcessDriver } from './process-driver.js';
import type { SupervisorSpares } from './spare-supervisors.js';

const run = promisify(execFile);

/** Where the process runtime keeps add-on servers: `<data-dir>/addons/<name>/`. */
export function processAddonsRoot(dataDir: string): string {
  return path.join(dataDir, 'addons');
}

/** A database server restarts like a unit, with a little more patience. */
const ADDON_RESTART_POLICY: RestartPolicy = Object.freeze({
  maxRestarts: 10,
  backoffMs: 500,
  maxBackoffMs: 10_000,
  resetAfterMs: 30_000,
});

/** The grace a server gets to shut down before it is killed (PostgreSQL then recovers). */
const STOP_GRACE_MS = 10_000;
const HOST = '127.0.0.1';

/** The one unit that is an add-on's server, named by the add-on. */
function unitIdOf(name: string): string {
  return `addon-${name}`;
}

/** Debian's PostgreSQL: the newest major version under /usr/lib/postgresql. */
async function findPostgres(): Promise<{ bin: string; version: string } | undefined> {
  let versions: string[];
  try {
    versions = await readdir('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  for (const version of versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => +b - +a)) {
    const bin = path.join('/usr/lib/postgresql', version, 'bin');
    if (
      (await executable(path.join(bin, 'postgres'))) &&
      (await executable(path.join(bin, 'initdb')))
    )
      return { bin, version };
  }
  return undefined;
}

/** The uid of a system user in /etc/passwd (`postgres`, made by Debian's package). */
async function systemUid(name: string): Promise<number | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [user, , uid] = line.split(':');
    if (user === name && uid !== undefined && /^\d+$/.test(uid) && uid !== '0') return Number(uid);
  }
  return undefined;
}

async function findRedis(): Promise<string | undefined> {
  for (const file of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    if (await executable(file)) return file;
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** Bytes the files under `dir` take (apparent sizes), 0 when it is gone. */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await treeSize(full);
    else if (entry.isFile()) total += (await lstat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

export interface ProcessAddonServersOptions {
  readonly dataDir: string;
  readonly isolation: ProcessIsolation;
  /** The range a new server's port is drawn from (the units'); the driver's default without. */
  readonly ports: PortRange | undefined;
  /** The host's port claims, bound to a runtime root. */
  readonly portClaims?: ((runtimeRoot: string) => PortClaims) | undefined;
  /**
   * Booted supervisors to hand a server to (the server's units' spare, shared), so that a
   * start does not wait for a Node to boot; without, each start boots one.
   */
  readonly spares?: SupervisorSpares | undefined;
}

/**
 * Add-on servers on the process runtime: Debian's PostgreSQL (initdb, then postgres) and
 * redis-server (append-only file on), each as the one supervised unit of a process runtime
 * of its own under `<data-dir>/addons/<name>/`, run as the add-on's unprivileged uid, on a
 * loopback port chosen at creation and kept. A server outlives the controller like a unit.
 */
export class ProcessAddonServers implements AddonServers {
  readonly #root: string;
  readonly #isolation: ProcessIsolation;
  readonly #sandboxes: AppSandboxes;
  readonly #ports: PortRange | undefined;
  readonly #portClaims: ((runtimeRoot: string) => PortClaims) | undefined;
  readonly #spares: SupervisorSpares | undefined;
  /** redis-server's version by the binary's identity: `--version` is a process of its own. */
  readonly #redisVersions = new Map<string, Promise<string>>();

  constructor(options: ProcessAddonServersOptions) {
    this.#root = processAddonsRoot(options.dataDir);
    this.#isolation = options.isolation;
    this.#sandboxes = new AppSandboxes({
      isolation: options.isolation,
      appsRoot: this.#root,
      scopeKey: this.#root,
    });
    this.#ports = options.ports;
    this.#portClaims = options.portClaims;
    this.#spares = options.spares;
  }

  async unavailable(kind: AddonKind): Promise<string | undefined> {
    if (this.#isolation.kind === 'none' && process.getuid?.() === 0) {
      return `database servers never run as root, and this controller cannot switch users (${this.#isolation.reason})`;
    }
    if (kind === 'postgres' && !(await findPostgres())) {
      return "PostgreSQL is not installed (apt-get install postgresql; Berth runs its own servers, not the system's)";
    }
    if (kind === 'postgres' && this.#isolation.kind === 'users' && !(await systemUid('postgres'))) {
      return "the system user 'postgres' is missing (Debian's postgresql package makes it)";
    }
    if (kind === 'redis' && !(await findRedis())) {
      return 'Redis is not installed (apt-get install redis-server)';
    }
    return undefined;
  }

  #dir(name: string): string {
    return this.#sandboxes.appDir(name);
  }

  #dataDir(name: string): string {
    return path.join(this.#dir(name), 'data');
  }

  /**
   * Whom the server runs as: PostgreSQL as Debian's `postgres` system user (initdb and the
   * server look their user up, and an add-on's own uid has no passwd entry), Redis as the
   * add-on's own uid. Either way, never root and never an app's uid.
   */
  async #account(spec: AddonServerSpec): Promise<AppAccount> {
    if (spec.kind !== 'postgres' || this.#isolation.kind !== 'users') {
      return { appId: spec.name, uid: spec.uid };
    }
    const uid = await systemUid('postgres');
    if (uid === undefined) throw new Error("the system user 'postgres' is missing");
    return { appId: spec.name, uid };
  }

  /**
   * Runs `work` with the driver of one add-on's server, bound to `range` (the add-on's own
   * port, once it has one), and lets the driver go after; the server runs on.
   */
  async #withDriver<T>(
    name: string,
    range: PortRange | undefined,
    work: (driver: RuntimeDriver, claims: PortClaims | undefined) => Promise<T>,
  ): Promise<T> {
    const root = path.join(this.#dir(name), 'runtime');
    const claims = this.#portClaims?.(root);
    const driver = new RuntimeDriver(
      new ProcessDriver({
        root,
        sandboxes: this.#sandboxes,
        ...(range ? { portRange: range } : {}),
        ...(claims ? { portClaims: claims } : {}),
        ...(this.#spares ? { spares: this.#spares } : {}),
      }),
    );
    try {
      await driver.init();
      return await work(driver, claims);
    } finally {
      await driver.destroy();
    }
  }

  /** Gives `file` (or a directory) to the server's uid, where servers run as users. */
  async #give(file: string, spec: AddonServerSpec): Promise<void> {
    const { uid } = await this.#account(spec);
    if (this.#isolation.kind === 'users') await lchown(file, uid, uid);
  }

  async create(spec: AddonServerSpec): Promise<AddonEndpoint> {
    const reason = await this.unavailable(spec.kind);
    if (reason !== undefined) throw new ConflictError(reason, ErrorCodes.ADDONS_UNAVAILABLE);
    const data = this.#dataDir(spec.name);
    if (await exists(data)) {
      throw new ConflictError(
        `the storage of add-on '${spec.name}' exists already (${data}); an add-on is created once`,
        ErrorCodes.ADDON_EXISTS,
      );
    }
    await this.#prepare(spec);
    // The new cluster's superuser's, used once to make the add-on's role, then taken away.
    let superuserPassword: string | undefined;
    if (spec.kind === 'postgres') {
      superuserPassword = randomBytes(32).toString('base64url');
      await this.#initdb(spec, superuserPassword);
    } else {
      await this.#writeRedisConfig(spec);
    }
    const unit = await this.#withDriver(spec.name, this.#ports, async (driver) =>
      driver.start(await this.#unitSpec(spec)),
    );
    return this.#awaitReady(spec, unit, superuserPassword);
  }

  async ensureRunning(spec: AddonServerSpec, port: number): Promise<AddonEndpoint> {
    if (!(await exists(this.#dataDir(spec.name)))) {
      throw new Error(
        `the storage of add-on '${spec.name}' is missing (${this.#dataDir(spec.name)})`,
      );
    }
    const range = { from: port, to: port };
    const unit = await this.#withDriver(spec.name, range, async (driver, claims) => {
      const [listed] = await driver.list();
      if (listed && ['running', 'starting', 'restarting'].includes(listed.state)) return listed;
      if (listed) await driver.stop(listed.id, { graceMs: 0 });
      // `berth down` stops the server without the store, so its claim of the port stays: it
      // is this server's own, and the one port it may have.
      await claims?.release(unitIdOf(spec.name));
      // The redis password is in its config file, which a new controller writes again.
      if (spec.kind === 'redis') await this.#writeRedisConfig(spec);
      return driver.start(await this.#unitSpec(spec));
    });
    return this.#awaitReady(spec, unit);
  }

  async status(name: string): Promise<AddonServerStatus> {
    if (!(await exists(path.join(this.#dir(name), 'runtime'))))
      return { state: 'absent', restarts: 0 };
    const [unit] = await this.#withDriver(name, this.#ports, (driver) => driver.list());
    const sizeBytes = await treeSize(this.#dataDir(name));
    if (!unit) return { state: 'stopped', restarts: 0, sizeBytes };
    const state = unit.state === 'stopping' || unit.state === 'lost' ? 'stopped' : unit.state;
    return { state, restarts: unit.restarts, sizeBytes };
  }

  async backup(spec: AddonServerSpec, port: number, file: string): Promise<void> {
    if (spec.kind === 'postgres') {
      const postgres = await findPostgres();
      if (!postgres) throw new Error('PostgreSQL is not installed');
      await tool(
        path.join(postgres.bin, 'pg_dump'),
        ['--format=custom', `--file=${file}`, ...postgresConnection(spec, port)],
        { PGPASSWORD: spec.credentials.password },
        'pg_dump',
      );
      return;
    }
    await tool(
      REDIS_CLI,
      ['-h', HOST, '-p', String(port), '--user', 'default', '--no-auth-warning', '--rdb', file],
      { REDISCLI_AUTH: spec.credentials.password },
      'redis-cli --rdb',
    );
  }

  async checkBackup({ kind }: AddonServerSpec, file: string): Promise<string | undefined> {
    const info = await lstat(file).catch(() => undefined);
    if (!info?.isFile()) return 'the backup file is missing';
    if (info.size === 0) return 'the backup file is empty';
    try {
      if (kind === 'postgres') {
        const postgres = await findPostgres();
        if (!postgres) return 'PostgreSQL is not installed';
        const listing = await tool(
          path.join(postgres.bin, 'pg_restore'),
          ['--list', file],
          {},
          'pg_restore --list',
        );
        if (!/^;\s+Archive created at/m.test(listing)) return 'pg_restore --list shows no archive';
      } else {
        await tool(REDIS_CHECK_RDB, [file], {}, 'redis-check-rdb');
      }
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  }

  async restore(spec: AddonServerSpec, port: number, file: string): Promise<void> {
    if (spec.kind === 'postgres') {
      const postgres = await findPostgres();
      if (!postgres) throw new Error('PostgreSQL is not installed');
      // One transaction: a restore that fails half-way leaves the database as it was.
      await tool(
        path.join(postgres.bin, 'pg_restore'),
        [
          '--clean',
          '--if-exists',
          '--no-owner',
          '--no-privileges',
          '--single-transaction',
          '--exit-on-error',
          ...postgresConnection(spec, port),
          file,
        ],
        { PGPASSWORD: spec.credentials.password },
        'pg_restore',
      );
      return;
    }
    await this.#restoreRedis(spec, port, file);
  }

  /**
   * Redis loads an RDB file only while its append-only file is off: the server starts once
   * without it on the snapshot, turns it on (a rewrite from memory), and runs on so. The data
   * it had waits aside until then, and comes back when anything fails.
   */
  async #restoreRedis(spec: AddonServerSpec, port: number, file: string): Promise<void> {
    const data = this.#dataDir(spec.name);
    const aside = `${data}.before-restore`;
    const range = { from: port, to: port };
    const restart = async (appendOnly: boolean): Promise<void> => {
      await this.#writeRedisConfig(spec, { appendOnly });
      await this.#withDriver(spec.name, range, async (driver, claims) => {
        for (const unit of await driver.list())
          await driver.stop(unit.id, { graceMs: STOP_GRACE_MS });
        await claims?.release(unitIdOf(spec.name));
        await driver.start(await this.#unitSpec(spec));
      });
      await this.#awaitReady(spec, { address: { host: HOST, port } });
    };
    await this.stop(spec.name);
    await rm(aside, { recursive: true, force: true });
    await rename(data, aside);
    try {
      await mkdir(data, { mode: 0o700 });
      await this.#give(data, spec);
      await copyFile(file, path.join(data, 'dump.rdb'));
      await this.#give(path.join(data, 'dump.rdb'), spec);
      await restart(false);
      await redisAppendOnlyOn({ host: HOST, port }, spec.credentials.password, READY_TIMEOUT_MS);
      await this.#writeRedisConfig(spec, { appendOnly: true });
    } catch (error) {
      await this.stop(spec.name).catch(() => undefined);
      await rm(data, { recursive: true, force: true });
      await rename(aside, data);
      await restart(true);
      throw error;
    }
    await rm(aside, { recursive: true, force: true });
  }

  async stop(name: string): Promise<void> {
    if (!(await exists(path.join(this.#dir(name), 'runtime')))) return;
    await this.#withDriver(name, this.#ports, async (driver) => {
      for (const unit of await driver.list())
        await driver.stop(unit.id, { graceMs: STOP_GRACE_MS });
    });
  }

  async destroy(name: string): Promise<void> {
    await this.stop(name);
    await rm(this.#dir(name), { recursive: true, force: true });
  }

  /** The add-on's directory (passable) and its data dir (its own, 0700). */
  async #prepare(spec: AddonServerSpec): Promise<void> {
    await mkdir(this.#dir(spec.name), { recursive: true, mode: 0o711 });
    await chmod(this.#root, 0o711);
    // Home and tmp come with the first jail (initdb's, or the server's): it makes them.
    const data = this.#dataDir(spec.name);
    await mkdir(data, { mode: 0o700 });
    await this.#give(data, spec);
  }

  /** A cluster whose superuser is POSTGRES_SUPERUSER with `superuserPassword` (for now). */
  async #initdb(spec: AddonServerSpec, superuserPassword: string): Promise<void> {
    const postgres = await findPostgres();
    if (!postgres) throw new Error('PostgreSQL is not installed');
    const jail = await this.#sandboxes.jail(
      `addon-initdb-${spec.name}`,
      await this.#account(spec),
      undefined,
    );
    // The password reaches initdb in a file of the server's user, removed at once after.
    const tmp = jail.env['TMPDIR'] ?? this.#dir(spec.name);
    const passwordFile = path.join(tmp, 'initdb-password');
    await writeFile(passwordFile, `${superuserPassword}\n`, { mode: 0o600 });
    await this.#give(passwordFile, spec);
    try {
      const [file, ...args] = jail.wrap([
        path.join(postgres.bin, 'initdb'),
        '--pgdata',
        this.#dataDir(spec.name),
        '--username',
        POSTGRES_SUPERUSER,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C.UTF-8',
        '--no-instructions',
      ]);
      await run(file, args, {
        cwd: this.#dir(spec.name),
        env: { ...jail.env, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
        maxBuffer: 4 * 1024 * 1024,
      }).catch((error: Error & { stderr?: string }) => {
        const detail = (error.stderr ?? '').trim().split('\n').slice(-5).join('\n');
        throw new Error(`initdb of add-on '${spec.name}' failed: ${detail || error.message}`);
      });
    } finally {
      await rm(passwordFile, { force: true });
      await jail.release().catch(() => undefined);
    }
  }

  #redisConfigFile(name: string): string {
    return path.join(this.#dir(name), 'redis.conf');
  }

  /** redis.conf, readable by the server's user only: it holds the password. */
  async #writeRedisConfig(
    spec: AddonServerSpec,
    options: { readonly appendOnly: boolean } = { appendOnly: true },
  ): Promise<void> {
    const file = this.#redisConfigFile(spec.name);
    const lines = [
      `bind ${HOST}`,
      'protected-mode yes',
      `dir ${this.#dataDir(spec.name)}`,
      `appendonly ${options.appendOnly ? 'yes' : 'no'}`,
      'appendfsync everysec',
      'daemonize no',
      'supervised no',
      'logfile ""',
      `requirepass ${spec.credentials.password}`,
    ];
    await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    await this.#give(file, spec);
  }

  async #unitSpec(spec: AddonServerSpec): Promise<UnitSpec> {
    let argv: string[];
    if (spec.kind === 'postgres') {
      const postgres = await findPostgres();
      if (!postgres) throw new Error('PostgreSQL is not installed');
      // The runtime gives the port as PORT; postgres reads it as PGPORT. The script is
      // constant: the paths are its arguments.
      argv = [
        '/bin/sh',
        '-c',
        'PGPORT="$PORT" exec "$0" "$@"',
        path.join(postgres.bin, 'postgres'),
        '-D',
        this.#dataDir(spec.name),
        '-c',
        `listen_addresses=${HOST}`,
        '-c',
        'unix_socket_directories=',
      ];
    } else {
      const redis = await findRedis();
      if (!redis) throw new Error('Redis is not installed');
      argv = [
        '/bin/sh',
        '-c',
        'exec "$0" "$1" --port "$PORT"',
        redis,
        this.#redisConfigFile(spec.name),
      ];
    }
    return {
      id: unitIdOf(spec.name),
      app: spec.name,
      release: 1,
      processType: spec.kind,
      index: 1,
      command: { kind: 'exec', argv },
      artifact: { kind: 'directory', path: this.#dir(spec.name) },
      env: { LANG: 'C.UTF-8' },
      restart: ADDON_RESTART_POLICY,
      account: await this.#account(spec),
    };
  }

  /**
   * Resolves once the server accepts its credentials (on a new PostgreSQL cluster, once the
   * add-on's database exists); rejects when it did not within READY_TIMEOUT_MS.
   */
  async #awaitReady(
    spec: AddonServerSpec,
    unit: Pick<UnitStatus, 'address'>,
    /** A new cluster's superuser password: its role and database are made first. */
    superuserPassword?: string,
  ): Promise<AddonEndpoint> {
    const address = { host: HOST, port: unit.address.port };
    // Looked up while the server starts, not before the first try.
    const version =
      spec.kind === 'postgres'
        ? findPostgres().then((found) => found?.version ?? '')
        : this.#redisVersion();
    version.catch(() => undefined);
    const accepts =
      spec.kind === 'redis'
        ? () => redisAccepts(address, spec.credentials.password)
        : superuserPassword !== undefined
          ? () => claimPostgresCluster(address, superuserPassword, spec.credentials)
          : () => postgresAccepts(address, spec.credentials, false);
    await untilAccepting(
      accepts,
      READY_POLL_MS[spec.kind],
      () =>
        `the ${spec.kind} server of add-on '${spec.name}' did not accept connections on port ${address.port}`,
    );
    return { ...address, version: await version };
  }

  /** redis-server's version, major.minor (e.g. '7.0'), probed once per installed binary. */
  async #redisVersion(): Promise<string> {
    const redis = await findRedis();
    if (!redis) return '';
    const info = await lstat(redis);
    const key = `${redis}:${info.ino}:${info.mtimeMs}`;
    let version = this.#redisVersions.get(key);
    if (!version) {
      version = redisVersion(redis);
      this.#redisVersions.set(key, version);
      // A failed probe is not remembered.
      version.catch(() => this.#redisVersions.delete(key));
    }
    return version;
  }
}

const REDIS_CLI = '/usr/bin/redis-cli';
const REDIS_CHECK_RDB = '/usr/bin/redis-check-rdb';

/** pg_dump's and pg_restore's connection arguments (the password goes in PGPASSWORD). */
function postgresConnection(spec: AddonServerSpec, port: number): string[] {
  return [
    `--host=${HOST}`,
    `--port=${port}`,
    `--username=${spec.credentials.user}`,
    `--dbname=${spec.credentials.database}`,
  ];
}

/**
 * Runs one of the database's client tools (an argument vector, secrets in its environment
 * only) and resolves with its stdout; rejects with its last lines of stderr.
 */
async function tool(
  file: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  what: string,
): Promise<string> {
  try {
    const { stdout } = await run(file, [...args], {
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
    return stdout;
  } catch (error) {
    const failed = error as Error & { stderr?: string; code?: unknown };
    const detail = (failed.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${what} failed: ${detail || failed.message}`);
  }
}

/** The version `redis --version` says, major.minor (e.g. '7.0'). */
async function redisVersion(redis: string): Promise<string> {
  const { stdout } = await run(redis, ['--version']);
  return /v=(\d+\.\d+)/.exec(stdout)?.[1] ?? '';
}

/**
 * `berth down`: stops the add-on servers of a data dir and keeps their data. Returns how many
 * servers it stopped.
 */
export async function stopAddonServers(
  dataDir: string,
  isolation: ProcessIsolation,
  graceMs: number,
): Promise<number> {
  const root = processAddonsRoot(dataDir);
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return 0;
  }
  const sandboxes = new AppSandboxes({ isolation, appsRoot: root, scopeKey: root });
  let stopped = 0;
  for (const name of names) {
    const runtimeRoot = path.join(root, name, 'runtime');
    if (!(await exists(runtimeRoot))) continue;
    const driver = new RuntimeDriver(new ProcessDriver({ root: runtimeRoot, sandboxes }));
    try {
      await driver.init();
      for (const unit of await driver.list()) {
        await driver.stop(unit.id, { graceMs });
        stopped++;
      }
    } finally {
      await driver.destroy();
    }
  }
  return stopped;
}
