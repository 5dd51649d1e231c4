import { createReadStream, createWriteStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { PassThrough, type Duplex, type Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Container, ContainerInspectInfo } from 'dockerode';
import { ADDON_IMAGE_LAYOUT, STACK_IMAGES } from '../../build/stacks/index.js';
import { engineErrorStatus, imageExists, type Engine } from '../../engine/index.js';
import { ConflictError, ErrorCodes } from '../../errors/index.js';
import {
  postgresVersionWhenReady,
  redisAppendOnlyOn,
  scramVerifier,
  redisVersionWhenReady,
  type ServerAddress,
} from '../addon-clients.js';
import type {
  AddonEndpoint,
  AddonKind,
  AddonServers,
  AddonServerSpec,
  AddonServerStatus,
} from '../addons.js';
import { treeSize } from '../tree-size.js';
import { PortAllocator, type PortClaims, type PortRange } from '../ports/index.js';
import { envList } from './container-config.js';
import { appNetworkName, Labels, rootLabel } from './labels.js';

/** The images tried for each kind, in order, when none is configured. */
export const DEFAULT_ADDON_IMAGES: Readonly<Record<AddonKind, readonly string[]>> = Object.freeze({
  postgres: Object.freeze(['docker.io/library/postgres:16', STACK_IMAGES.postgres]),
  redis: Object.freeze(['docker.io/library/redis:7', STACK_IMAGES.redis]),
});

/** The memory a server may use unless configured: PostgreSQL's defaults fit well within it. */
export const DEFAULT_ADDON_MEMORY_BYTES: Readonly<Record<AddonKind, number>> = Object.freeze({
  postgres: 512 * 1024 * 1024,
  redis: 256 * 1024 * 1024,
});

const READY_TIMEOUT_MS = 120_000;
/** How often a starting server is asked whether it accepts connections. */
export const READY_POLL_MS = 25;
/** Every how many refused tries the engine is asked whether the container is still there. */
const GONE_CHECK_EVERY = 40;
/** The seconds a server gets to shut down before the engine kills it (PostgreSQL recovers). */
const STOP_GRACE_S = 10;
/** Processes a server may hold: PostgreSQL forks one per connection (100 by default). */
const PIDS_LIMIT = 512;
const HOST = '127.0.0.1';

/** The container, volume and network names of an add-on; its name is the apps' host name. */
export function addonContainerName(name: string): string {
  return `berth-addon-${name}`;
}
function volumeName(name: string): string {
  return `berth-addon-${name}-data`;
}

// The servers' entrypoints, constant scripts: the credentials arrive in the environment. Both
// run as the image's server user (never root) and work on the official images too.

// PostgreSQL: the cluster's superuser is one no add-on's role can be named (a '-': roles are
// [a-z0-9_]) and cannot log in (no password, Unix socket only); the add-on's role is an
// ordinary one that owns its database, made in single-user mode before the server first
// listens, so that an app cannot read the server's files or run programs as its user. The
// names and the password's SCRAM verifier (the container never sees the password) are
// checked against what Berth makes before they reach any SQL.
const POSTGRES_ENTRYPOINT = `set -eu
case "$BERTH_USER$BERTH_DATABASE" in *[!a-z0-9_]*|'') echo 'bad role or database name' >&2; exit 2;; esac
case "$BERTH_PASSWORD_VERIFIER" in SCRAM-SHA-256*) ;; *) echo 'bad password verifier' >&2; exit 2;; esac
case "$BERTH_PASSWORD_VERIFIER" in *[!A-Za-z0-9+/=:\\$-]*) echo 'bad password verifier' >&2; exit 2;; esac
bin=
for dir in /usr/lib/postgresql/*/bin; do if [ -x "$dir/postgres" ]; then bin=$dir; fi; done
if [ -z "$bin" ]; then bin=$(dirname "$(command -v postgres)"); fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$bin/initdb" --pgdata="$PGDATA" --username=berth-superuser --auth-local=peer \\
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
  printf 'host all all all scram-sha-256\\n' >> "$PGDATA/pg_hba.conf"
  printf '%s\\n' \\
    "CREATE ROLE \\"$BERTH_USER\\" LOGIN PASSWORD '$BERTH_PASSWORD_VERIFIER'" \\
    "CREATE DATABASE \\"$BERTH_DATABASE\\" OWNER \\"$BERTH_USER\\"" \\
    | "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null 2>/tmp/berth-single.log || true
  # Single-user mode reports a failed statement and goes on: its errors, passwords masked.
  if grep -q -e ERROR -e FATAL /tmp/berth-single.log; then
    sed "s/'[^']*'/'***'/g" /tmp/berth-single.log >&2
    rm -rf "$PGDATA"/*
    exit 1
  fi
  rm -f /tmp/berth-single.log
fi
unset BERTH_PASSWORD_VERIFIER
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp -p 5432`;

// A restore leaves restore.rdb beside the data: the next start sets the data aside, loads the
// snapshot with the append-only file off, and Berth turns it on again (a rewrite from memory).
const REDIS_ENTRYPOINT = `set -eu
cd /data
appendonly=yes
if [ -f restore.rdb ]; then
  rm -rf before-restore
  mkdir before-restore
  for f in appendonlydir appendonly.aof dump.rdb; do if [ -e "$f" ]; then mv "$f" before-restore/; fi; done
  mv restore.rdb dump.rdb
  appendonly=no
fi
umask 077
printf 'port 6379\\nbind * -::*\\nprotected-mode no\\ndir /data\\nappendonly %s\\nrequirepass %s\\n' \\
  "$appendonly" "$BERTH_PASSWORD" > /tmp/redis.conf
unset BERTH_PASSWORD
exec redis-server /tmp/redis.conf`;

// Puts the data set aside by a restore back (run in a container of its own, the server stopped).
const REDIS_ROLLBACK = `set -eu
cd /data
rm -f restore.rdb
if [ -d before-restore ]; then
  rm -rf appendonlydir appendonly.aof dump.rdb
  for f in before-restore/* ; do if [ -e "$f" ]; then mv "$f" .; fi; done
  rmdir before-restore
fi`;

/** The entrypoint of each kind's server container (`/bin/sh -c <script>`). */
export const ADDON_ENTRYPOINTS: Readonly<Record<AddonKind, string>> = Object.freeze({
  postgres: POSTGRES_ENTRYPOINT,
  redis: REDIS_ENTRYPOINT,
});

/** What ran in a container: its exit code and the last of its stderr. */
interface ExecResult {
  readonly code: number;
  readonly stderr: string;
}

export interface ContainerAddonServersOptions {
  readonly engine: Engine;
  /** The container runtime's root: its label marks the add-ons' containers as this Berth's. */
  readonly root: string;
  /** The loopback ports servers are published on, for the controller (backups, tunnels). */
  readonly ports: PortRange;
  readonly portClaims?: PortClaims;
  /** An image per kind (BERTH_POSTGRES_IMAGE, BERTH_REDIS_IMAGE); else DEFAULT_ADDON_IMAGES. */
  readonly images?: Partial<Readonly<Record<AddonKind, string>>>;
  readonly memoryBytes?: Partial<Readonly<Record<AddonKind, number>>>;
}

/**
 * Add-on servers on the container runtime: one container per add-on, its data in a named
 * volume that only `destroy` removes, published on a loopback port for the controller, and on
 * the networks of the apps it is attached to under its container name. The engine restarts a
 * server that crashes; containers outlive the controller and are adopted by the next one.
 */
export class ContainerAddonServers implements AddonServers {
  readonly #engine: Engine;
  readonly #root: string;
  readonly #ports: PortAllocator;
  readonly #images: Partial<Readonly<Record<AddonKind, string>>>;
  readonly #memory: Readonly<Record<AddonKind, number>>;
  readonly #resolved = new Map<AddonKind, string>();

  constructor(options: ContainerAddonServersOptions) {
    this.#engine = options.engine;
    this.#root = rootLabel(options.root);
    this.#ports = new PortAllocator(options.ports, { host: HOST, claims: options.portClaims });
    this.#images = options.images ?? {};
    this.#memory = { ...DEFAULT_ADDON_MEMORY_BYTES, ...options.memoryBytes };
  }

  async unavailable(kind: AddonKind): Promise<string | undefined> {
    return (await this.#image(kind)).problem;
  }

  /** The image for `kind`: the configured one, else the first default the engine has. */
  async #image(kind: AddonKind): Promise<{ image: string; problem?: string }> {
    const resolved = this.#resolved.get(kind);
    if (resolved) return { image: resolved };
    const configured = this.#images[kind];
    const candidates = configured ? [configured] : DEFAULT_ADDON_IMAGES[kind];
    for (const image of candidates) {
      if (await imageExists(this.#engine, image)) {
        this.#resolved.set(kind, image);
        return { image };
      }
    }
    const [first = ''] = candidates;
    const build = configured
      ? ''
      : `, or build ${STACK_IMAGES[kind]} with 'berth stacks build --only ${kind}'`;
    return {
      image: first,
      problem: `the engine has no ${candidates.join(' or ')} image: pull ${first}${build}`,
    };
  }

  async create(spec: AddonServerSpec): Promise<AddonEndpoint> {
    const { image, problem } = await this.#image(spec.kind);
    if (problem) throw new ConflictError(problem, ErrorCodes.ADDONS_UNAVAILABLE);
    // Asked of the engine at once: each is a round trip it answers on its own.
    const [volumeExists, published] = await Promise.all([
      this.#volumeExists(spec.name),
      this.#publishedPorts(),
      this.#ensureNetwork(addonContainerName(spec.name), this.#labels(spec)),
    ]);
    if (volumeExists) {
      throw new ConflictError(
        `the engine has a volume ${volumeName(spec.name)} already: an add-on's data is made once`,
        ErrorCodes.ADDON_EXISTS,
      );
    }
    const unitId = `addon-${spec.name}`;
    const port = await this.#ports.allocate(unitId, published);
    try {
      await this.#engine.createVolume({
        Name: volumeName(spec.name),
        Labels: this.#labels(spec),
      });
      const container = await this.#createContainer(spec, image, port);
      await container.start();
      return await this.#awaitReady(spec, port);
    } catch (error) {
      await this.#ports.unclaim(unitId, port);
      throw error;
    } finally {
      this.#ports.release(port);
    }
  }

  async ensureRunning(spec: AddonServerSpec, port: number): Promise<AddonEndpoint> {
    const name = addonContainerName(spec.name);
    let info = await this.#inspect(name);
    if (!info) {
      // The container went (removed by hand): made again on the volume, which holds the data.
      if (!(await this.#volumeExists(spec.name))) {
        throw new Error(`the volume of add-on '${spec.name}' is gone: its data is lost`);
      }
      const { image, problem } = await this.#image(spec.kind);
      if (problem) throw new Error(problem);
      await this.#createContainer(spec, image, port);
      info = await this.#inspect(name);
    }
    for (const app of spec.apps ?? []) await this.attached(spec.name, app);
    if (!info?.State.Running) await this.#engine.getContainer(name).start();
    return this.#awaitReady(spec, port);
  }

  async status(name: string): Promise<AddonServerStatus> {
    const info = await this.#inspect(addonContainerName(name));
    if (!info) return { state: 'absent', restarts: 0 };
    const sizeBytes = await this.#volumeSize(name);
    const state = info.State.Restarting
      ? 'restarting'
      : info.State.Running
        ? 'running'
        : info.State.Status === 'created'
          ? 'starting'
          : info.State.ExitCode !== 0 && info.State.ExitCode !== 143
            ? 'crashed'
            : 'stopped';
    return {
      state,
      restarts: info.RestartCount,
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
    };
  }

  /** Connects the server to the app's network, where apps reach it by its container name. */
  async attached(name: string, app: string): Promise<void> {
    const network = appNetworkName(app);
    await this.#ensureAppNetwork(app, network);
    try {
      await this.#engine.getNetwork(network).connect({
        Container: addonContainerName(name),
        EndpointConfig: { Aliases: [addonContainerName(name)] },
      });
    } catch (error) {
      // Connected already (Docker 403, Podman 500 "already exists"): that is what was asked.
      const info = await this.#inspect(addonContainerName(name));
      if (!info?.NetworkSettings.Networks[network]) throw error;
    }
  }

  async detached(name: string, app: string): Promise<void> {
    await this.#engine
      .getNetwork(appNetworkName(app))
      .disconnect({ Container: addonContainerName(name), Force: true })
      .catch((error: unknown) => {
        const status = engineErrorStatus(error);
        // Gone already, or never connected: nothing to undo.
        if (status !== 404 && status !== 500) throw error;
      });
  }

  address(name: string, kind: AddonKind): ServerAddress {
    return { host: addonContainerName(name), port: ADDON_IMAGE_LAYOUT[kind].port };
  }

  async backup(spec: AddonServerSpec, _port: number, file: string): Promise<void> {
    const out = createWriteStream(file, { mode: 0o600 });
    const command =
      spec.kind === 'postgres'
        ? ['pg_dump', '--format=custom', ...this.#postgresConnection(spec)]
        : ['redis-cli', '--no-auth-warning', '--user', 'default', '--rdb', '-'];
    const result = await this.#exec(spec, command, { stdout: out }).finally(() =>
      finished(out).catch(() => undefined),
    );
    if (result.code !== 0) {
      throw new Error(`${command[0] ?? ''} failed (exit ${result.code}): ${result.stderr}`);
    }
  }

  async checkBackup(spec: AddonServerSpec, file: string): Promise<string | undefined> {
    const info = await lstat(file).catch(() => undefined);
    if (!info?.isFile()) return 'the backup file is missing';
    if (info.size === 0) return 'the backup file is empty';
    if (spec.kind === 'postgres') {
      const listing = new PassThrough();
      let text = '';
      listing.on('data', (chunk: Buffer) => {
        if (text.length < 64 * 1024) text += chunk.toString('utf8');
      });
      const result = await this.#exec(spec, ['pg_restore', '--list'], {
        stdin: createReadStream(file),
        stdout: listing,
      });
      if (result.code !== 0) return `pg_restore --list failed: ${result.stderr}`;
      if (!/^;\s+Archive created at/m.test(text)) return 'pg_restore --list shows no archive';
      return undefined;
    }
    // redis-check-rdb reads a file: one beside the data (no size limit), removed after.
    const result = await this.#exec(
      spec,
      [
        '/bin/sh',
        '-c',
        'umask 077; trap "rm -f /data/.berth-check.rdb" EXIT; cat > /data/.berth-check.rdb && redis-check-rdb /data/.berth-check.rdb >&2',
      ],
      { stdin: createReadStream(file) },
    );
    return result.code === 0 ? undefined : `redis-check-rdb failed: ${result.stderr}`;
  }

  async restore(spec: AddonServerSpec, port: number, file: string): Promise<void> {
    if (spec.kind === 'postgres') {
      // One transaction: a restore that fails half-way leaves the database as it was.
      const result = await this.#exec(
        spec,
        [
          'pg_restore',
          '--clean',
          '--if-exists',
          '--no-owner',
          '--no-privileges',
          '--single-transaction',
          '--exit-on-error',
          ...this.#postgresConnection(spec),
        ],
        { stdin: createReadStream(file) },
      );
      if (result.code !== 0) throw new Error(`pg_restore failed: ${result.stderr}`);
      return;
    }
    await this.#restoreRedis(spec, port, file);
  }

  async #restoreRedis(spec: AddonServerSpec, port: number, file: string): Promise<void> {
    const written = await this.#exec(
      spec,
      [
        '/bin/sh',
        '-c',
        'umask 077; cat > /data/restore.rdb.partial && mv /data/restore.rdb.partial /data/restore.rdb',
      ],
      { stdin: createReadStream(file) },
    );
    if (written.code !== 0) throw new Error(`could not copy the snapshot: ${written.stderr}`);
    const container = this.#engine.getContainer(addonContainerName(spec.name));
    try {
      await container.stop({ t: STOP_GRACE_S }).catch(ignoreNotModified);
      await container.start();
      await this.#awaitReady(spec, port);
      await redisAppendOnlyOn({ host: HOST, port }, spec.credentials.password, READY_TIMEOUT_MS);
    } catch (error) {
      await container
        .stop({ t: STOP_GRACE_S })
        .catch(ignoreNotModified)
        .catch(() => undefined);
      await this.#runOnVolume(spec, REDIS_ROLLBACK).catch(() => undefined);
      await container.start().catch(() => undefined);
      await this.#awaitReady(spec, port).catch(() => undefined);
      throw error;
    }
    await this.#exec(spec, ['rm', '-rf', '/data/before-restore']);
  }

  async stop(name: string): Promise<void> {
    await this.#engine
      .getContainer(addonContainerName(name))
      .stop({ t: STOP_GRACE_S })
      .catch((error: unknown) => {
        const status = engineErrorStatus(error);
        if (status !== 304 && status !== 404) throw error;
      });
  }

  async destroy(name: string): Promise<void> {
    const container = this.#engine.getContainer(addonContainerName(name));
    await container.remove({ force: true, v: false }).catch((error: unknown) => {
      if (engineErrorStatus(error) !== 404) throw error;
    });
    await this.#engine
      .getVolume(volumeName(name))
      .remove()
      .catch((error: unknown) => {
        if (engineErrorStatus(error) !== 404) throw error;
      });
    // Its own network, which only its container used.
    await this.#engine
      .getNetwork(addonContainerName(name))
      .remove()
      .catch((error: unknown) => {
        if (engineErrorStatus(error) !== 404) throw error;
      });
    await this.#ports.unclaim(`addon-${name}`);
  }

  // --- the container ------------------------------------------------------------------------

  #labels(spec: Pick<AddonServerSpec, 'name' | 'kind'>): Record<string, string> {
    return {
      [Labels.root]: this.#root,
      [Labels.kind]: 'addon',
      [Labels.addon]: spec.name,
      [Labels.addonKind]: spec.kind,
    };
  }

  async #createContainer(spec: AddonServerSpec, image: string, port: number): Promise<Container> {
    const layout = ADDON_IMAGE_LAYOUT[spec.kind];
    const network = addonContainerName(spec.name);
    await this.#ensureNetwork(network, this.#labels(spec));
    const env =
      spec.kind === 'postgres'
        ? {
            PGDATA: layout.dataDir,
            BERTH_USER: spec.credentials.user,
            BERTH_DATABASE: spec.credentials.database,
            // A SCRAM verifier, not the password: the container never holds it.
            BERTH_PASSWORD_VERIFIER: scramVerifier(spec.credentials.password),
          }
        : { BERTH_PASSWORD: spec.credentials.password };
    const memory = this.#memory[spec.kind];
    return this.#engine.createContainer({
      name: addonContainerName(spec.name),
      Image: image,
      User: layout.user,
      Entrypoint: ['/bin/sh', '-c', ADDON_ENTRYPOINTS[spec.kind]],
      Cmd: [],
      Env: envList(env),
      Labels: { ...this.#labels(spec), [Labels.port]: String(port) },
      ExposedPorts: { [`${layout.port}/tcp`]: {} },
      HostConfig: {
        NetworkMode: network,
        Init: true,
        Privileged: false,
        SecurityOpt: ['no-new-privileges'],
        CapDrop: ['ALL'],
        PidsLimit: PIDS_LIMIT,
        Memory: memory,
        MemorySwap: memory,
        // The engine restarts a server that crashes, not one that was stopped.
        RestartPolicy: { Name: 'unless-stopped' },
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m' },
        // PostgreSQL's shared memory; the engine's default of 64 MiB is enough.
        Mounts: [{ Type: 'volume', Source: volumeName(spec.name), Target: layout.dataDir }],
        PortBindings: {
          [`${layout.port}/tcp`]: [{ HostIp: HOST, HostPort: String(port) }],
        },
      },
    });
  }

  /** Runs `script` in a throwaway container on the add-on's volume (its server stopped). */
  async #runOnVolume(spec: AddonServerSpec, script: string): Promise<void> {
    const { image } = await this.#image(spec.kind);
    const layout = ADDON_IMAGE_LAYOUT[spec.kind];
    const container = await this.#engine.createContainer({
      Image: image,
      User: layout.user,
      Entrypoint: ['/bin/sh', '-c', script],
      Cmd: [],
      Labels: { ...this.#labels(spec), [Labels.kind]: 'addon-task' },
      HostConfig: {
        NetworkMode: 'none',
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Mounts: [{ Type: 'volume', Source: volumeName(spec.name), Target: layout.dataDir }],
      },
    });
    try {
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      if (StatusCode !== 0) throw new Error(`a task on the volume exited with ${StatusCode}`);
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }

  async #ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.#engine.getNetwork(name).inspect();
      return;
    } catch (error) {
      if (engineErrorStatus(error) !== 404) throw error;
    }
    await this.#engine
      .createNetwork({ Name: name, Labels: labels, Options: { isolate: 'true' } })
      .catch(async (error: unknown) => {
        // Made at the same moment by another start (Docker 409, Podman 500).
        await this.#engine
          .getNetwork(name)
          .inspect()
          .catch(() => {
            throw error;
          });
      });
  }

  /** The app's network as the container driver makes it, for an app not deployed yet. */
  async #ensureAppNetwork(app: string, network: string): Promise<void> {
    await this.#ensureNetwork(network, { [Labels.root]: this.#root, [Labels.app]: app });
  }

  async #inspect(name: string): Promise<ContainerInspectInfo | undefined> {
    try {
      return await this.#engine.getContainer(name).inspect();
    } catch (error) {
      if (engineErrorStatus(error) === 404) return undefined;
      throw error;
    }
  }

  async #volumeExists(name: string): Promise<boolean> {
    try {
      await this.#engine.getVolume(volumeName(name)).inspect();
      return true;
    } catch (error) {
      if (engineErrorStatus(error) === 404) return false;
      throw error;
    }
  }

  /** The bytes of the volume, where the engine runs on this host and its mountpoint is readable. */
  async #volumeSize(name: string): Promise<number | undefined> {
    try {
      const { Mountpoint } = await this.#engine.getVolume(volumeName(name)).inspect();
      return await treeSize(Mountpoint);
    } catch {
      return undefined;
    }
  }

  /** The loopback ports of this root's add-on containers, by add-on. */
  async #publishedPorts(): Promise<Map<string, number>> {
    const listed = await this.#engine.listContainers({
      all: true,
      filters: { label: [`${Labels.root}=${this.#root}`, `${Labels.kind}=addon`] },
    });
    const ports = new Map<string, number>();
    for (const info of listed) {
      const name = info.Labels[Labels.addon];
      const port = Number(info.Labels[Labels.port]);
      if (name && Number.isInteger(port)) ports.set(`addon-${name}`, port);
    }
    return ports;
  }

  #postgresConnection(spec: AddonServerSpec): string[] {
    return [
      '--host=127.0.0.1',
      '--port=5432',
      `--username=${spec.credentials.user}`,
      `--dbname=${spec.credentials.database}`,
    ];
  }

  /**
   * Runs `command` in the add-on's container as its server's user, with its password in the
   * environment (PGPASSWORD, REDISCLI_AUTH) and `stdin` fed in; stdout goes to `stdout`.
   */
  async #exec(
    spec: AddonServerSpec,
    command: readonly string[],
    io: { readonly stdin?: Readable; readonly stdout?: Writable } = {},
  ): Promise<ExecResult> {
    const container = this.#engine.getContainer(addonContainerName(spec.name));
    const secret =
      spec.kind === 'postgres'
        ? `PGPASSWORD=${spec.credentials.password}`
        : `REDISCLI_AUTH=${spec.credentials.password}`;
    const exec = await container.exec({
      Cmd: [...command],
      User: ADDON_IMAGE_LAYOUT[spec.kind].user,
      Env: [secret, 'LANG=C.UTF-8'],
      AttachStdin: io.stdin !== undefined,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream: Duplex = await exec.start({ hijack: true, stdin: io.stdin !== undefined });
    const stdout = io.stdout ?? new PassThrough().resume();
    let stderr = '';
    const errors = new PassThrough();
    errors.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    this.#engine.modem.demuxStream(stream, stdout, errors);
    const ended = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', reject);
    });
    if (io.stdin) {
      // The input ends the exec's stdin half when it is all sent; the output still flows.
      await pipeline(io.stdin, stream, { end: true }).catch(() => undefined);
    }
    await ended;
    if (io.stdout) io.stdout.end();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const info = await exec.inspect();
      if (!info.Running || Date.now() > deadline) {
        const lines = stderr.trim().split('\n').slice(-5).join('\n');
        return { code: info.ExitCode ?? -1, stderr: lines };
      }
      await sleep(20);
    }
  }

  /** Resolves once the server accepts its credentials; rejects when it did not in time. */
  async #awaitReady(spec: AddonServerSpec, port: number): Promise<AddonEndpoint> {
    const address = { host: HOST, port };
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let asked = 0;
    for (;;) {
      // Ready, and its version, in one login: the server's major version as it says itself.
      const version =
        spec.kind === 'redis'
          ? await redisVersionWhenReady(address, spec.credentials.password)
          : await postgresVersionWhenReady(address, spec.credentials);
      if (version !== undefined) return { host: HOST, port, version };
      // The engine is asked now and then only: an inspect costs the engine more than a
      // refused connection costs the server, and it competes with the server's start.
      if (
        ++asked % GONE_CHECK_EVERY === 0 &&
        !(await this.#inspect(addonContainerName(spec.name)))
      ) {
        throw new Error(`the container of add-on '${spec.name}' is gone`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the ${spec.kind} server of add-on '${spec.name}' did not accept connections within ${READY_TIMEOUT_MS / 1000} s`,
        );
      }
      await sleep(READY_POLL_MS);
    }
  }
}

/** A stop of a container that is not running: the engine says 304, which is no failure. */
function ignoreNotModified(error: unknown): void {
  if (engineErrorStatus(error) !== 304) throw error;
}

/**
 * `berth down`: stops this root's add-on servers and keeps their volumes. Returns how many
 * were running.
 */
export async function stopContainerAddons(engine: Engine, root: string): Promise<number> {
  const listed = await engine.listContainers({
    filters: { label: [`${Labels.root}=${rootLabel(root)}`, `${Labels.kind}=addon`] },
  });
  await Promise.all(
    listed.map((info) =>
      engine
        .getContainer(info.Id)
        .stop({ t: STOP_GRACE_S })
        .catch((error: unknown) => {
          const status = engineErrorStatus(error);
          if (status !== 304 && status !== 404) throw error;
        }),
    ),
  );
  return listed.length;
}
