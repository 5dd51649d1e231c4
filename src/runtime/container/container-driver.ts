import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerInfo, NetworkInspectInfo } from 'dockerode';
import { engineErrorStatus, type Engine } from '../../engine/index.js';
import { ConflictError, ErrorCodes, InputError } from '../../errors/index.js';
import {
  DEFAULT_RESTART_POLICY,
  type Driver,
  type LogLine,
  type LogQuery,
  type OneOffResult,
  type OneOffSpec,
  type RestartPolicy,
  type UnitArtifact,
  type UnitExit,
  type UnitSpec,
  type UnitStatus,
} from '../driver.js';
import { PortAllocator, type PortClaims, type PortRange } from '../ports/index.js';
import { LogFollows, readLogLines } from '../unit-logs/index.js';
import { removeAppContainers, removeAppNetwork } from './app-removal.js';
import { entrypointOf, envList, exitOf, hostConfigOf } from './container-config.js';
import { appNetworkName, containerName, Labels, rootLabel, unitLabels } from './labels.js';
import { LogCapture, type CaptureTarget, type LogCursor } from './log-capture.js';
import { IptablesNetworkGuard, type NetworkGuard } from './network-guard.js';
import { runOneOffContainer } from './one-off.js';
import { ContainerLayout, type UnitState } from './unit-state.js';
import {
  initialLifecycle,
  listedPhase,
  moveLifecycle,
  startedPhase,
  type UnitLifecycle,
} from './unit-lifecycle.js';
import { decideRestart } from '../restart-decision.js';
import { berthVariables } from '../unit-variables.js';

/** Options of the container runtime. */
export interface ContainerDriverOptions {
  /** A connected engine (see src/engine). */
  readonly engine: Engine;
  /** The runtime's own directory, e.g. `<data-dir>/containers` (see ContainerLayout). */
  readonly root: string;
  /** The loopback ports units are published on (the same port inside); default 30000–39999. */
  readonly portRange?: PortRange;
  /** Where published ports listen and units are reached; default 127.0.0.1. */
  readonly host?: string;
  /**
   * The host's port claims, so that the units of several controllers of one host (each with a
   * runtime root of its own) never get one port; default none: ports are kept apart among
   * this driver's units only.
   */
  readonly portClaims?: PortClaims;
  /** A log file is rotated (one old file kept) at this size; default 5 MiB. */
  readonly logFileLimitBytes?: number;
  /** Units get a read-only root file system (and a small tmpfs on /tmp). */
  readonly readOnlyRootFilesystem?: boolean;
  /**
   * What keeps apps' networks apart beyond the engine's own isolation (see NetworkGuard):
   * default the host's iptables where the controller runs as root and has it, 'engine-only'
   * to rely on the engine alone (a remote or rootless engine, whose bridges this host's
   * firewall does not see).
   */
  readonly networkGuard?: NetworkGuard | 'engine-only';
  /**
   * The most processes and threads one unit or one-off may hold at once; default
   * DEFAULT_PIDS_LIMIT. A fork loop stops there (fork fails with EAGAIN) instead of taking the
   * machine's.
   */
  readonly pidsLimit?: number;
}

/** Generous for a web app (Node holds about a dozen threads, a worker pool some dozens). */
export const DEFAULT_PIDS_LIMIT = 512;

/** The loopback ports units (and add-on servers) are published on unless configured. */
export const DEFAULT_CONTAINER_PORTS = Object.freeze({ from: 30_000, to: 39_999 });

/** How long to wait before following the engine's events again after the stream broke. */
const EVENTS_RETRY_MS = 1000;
const POLL_MS = 25;
/** How long the engine may take to act on SIGKILL before stop() gives up waiting. */
const KILL_WAIT_MS = 10_000;
/** removeApp's grace: the caller stopped the app's units with its own grace before. */
const REMOVE_GRACE_MS = 2000;

/** What the driver holds of a unit it has seen, beyond the engine's view. */
interface TrackedUnit {
  readonly id: string;
  readonly app: string;
  readonly name: string;
  readonly policy: RestartPolicy;
  readonly memoryBytes: number | undefined;
  /** What is saved of it (restarts, last exit, log cursor). */
  state: UnitState;
  /** Where it is in its life; changed only by ContainerDriver's #move (see unit-lifecycle). */
  lifecycle: UnitLifecycle;
  capture: LogCapture;
}

function imageOf(artifact: UnitArtifact): string {
  if (artifact.kind !== 'image') {
    throw new InputError(
      `the container runtime runs image artifacts, not ${artifact.kind}s`,
      ErrorCodes.UNIT_SPEC_INVALID,
    );
  }
  return artifact.ref;
}

function labelsOf(info: ContainerInfo): Readonly<Record<string, string>> {
  return info.Labels ?? {};
}

/** Unit id → port of the units' containers, as the allocator takes the runtime's units. */
function portsOf(containers: readonly ContainerInfo[]): Map<string, number> {
  return new Map(
    containers.map((info) => {
      const labels = labelsOf(info);
      return [labels[Labels.unit] ?? '', Number(labels[Labels.port])] as const;
    }),
  );
}

function restartPolicyOf(raw: string | undefined): RestartPolicy {
  try {
    return { ...DEFAULT_RESTART_POLICY, ...(JSON.parse(raw ?? '{}') as Partial<RestartPolicy>) };
  } catch {
    return DEFAULT_RESTART_POLICY;
  }
}

/** The IPv4 subnets of a network as the engine's inspect shows them. */
function subnetsOf(info: NetworkInspectInfo): string[] {
  return (info.IPAM?.Config ?? [])
    .map((config) => config.Subnet ?? '')
    .filter((subnet) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(subnet));
}

function byAppTypeIndex(a: UnitStatus, b: UnitStatus): number {
  return (
    a.app.localeCompare(b.app) ||
    a.processType.localeCompare(b.processType) ||
    a.index - b.index ||
    a.id.localeCompare(b.id)
  );
}

/**
 * The container runtime: each unit is a container on a Docker or Podman engine, reached
 * through the Docker Engine API only. Labels on the container are its record, so a new driver
 * adopts the units a previous one started; the driver restarts exited units itself (with the
 * same backoff as the process runtime) from the engine's event stream, and copies their output
 * into log files that outlive the containers.
 */
export class ContainerDriver implements Driver {
  readonly kind = 'container';
  readonly #engine: Engine;
  readonly #layout: ContainerLayout;
  readonly #host: string;
  readonly #ports: PortAllocator;
  readonly #logFileLimitBytes: number;
  readonly #readOnly: boolean;
  readonly #pidsLimit: number;
  readonly #guardOption: NetworkGuard | 'engine-only' | undefined;
  #guard: Promise<NetworkGuard | undefined> | undefined;
  /** Labels every container of this root, so the driver sees only its own. */
  readonly #root: string;
  readonly #units = new Map<string, TrackedUnit>();
  readonly #follows = new LogFollows();
  /** One-offs running: their abort, their app, and their end (once the container is gone). */
  readonly #runs = new Map<AbortController, { readonly app: string; ended: Promise<unknown> }>();
  /** Networks known to exist; forgotten when a create fails, so the next start looks again. */
  readonly #networks = new Set<string>();
  #events: Readable | undefined;
  #eventsRetry: NodeJS.Timeout | undefined;
  #destroyed = false;

  constructor(options: ContainerDriverOptions) {
    this.#engine = options.engine;
    this.#layout = new ContainerLayout(options.root);
    this.#host = options.host ?? '127.0.0.1';
    this.#ports = new PortAllocator(options.portRange ?? DEFAULT_CONTAINER_PORTS, {
      host: this.#host,
      claims: options.portClaims,
    });
    this.#logFileLimitBytes = options.logFileLimitBytes ?? 5 * 1024 * 1024;
    this.#readOnly = options.readOnlyRootFilesystem ?? false;
    this.#pidsLimit = options.pidsLimit ?? DEFAULT_PIDS_LIMIT;
    this.#guardOption = options.networkGuard;
    if (!Number.isInteger(this.#pidsLimit) || this.#pidsLimit < 1) {
      throw new TypeError(`pidsLimit must be a positive whole number, not ${this.#pidsLimit}`);
    }
    this.#root = rootLabel(options.root);
  }

  async init(): Promise<void> {
    await mkdir(this.#layout.unitsDir, { recursive: true, mode: 0o700 });
    await mkdir(this.#layout.logsDir, { recursive: true, mode: 0o700 });
    await this.#engine.ping();
    await this.#followEvents();
    await this.#rescan();
    await this.#ports.adopt(portsOf(await this.#containers()));
    // Adopted units' networks are guarded again: the host's rules may not have survived.
    for (const app of new Set([...this.#units.values()].map((unit) => unit.app))) {
      await this.#ensureNetwork(app);
    }
  }

  async start(spec: UnitSpec): Promise<UnitStatus> {
    const image = imageOf(spec.artifact);
    const exists = (why: string) => new ConflictError(why, ErrorCodes.UNIT_EXISTS);
    // A start of an id already starting is refused by the RuntimeDriver wrapper.
    if (this.#units.has(spec.id)) throw exists(`unit ${spec.id} exists; stop it first`);
    const name = containerName(spec.id);
    const existing = await this.#inspect(name);
    if (existing) {
      throw exists(
        existing.Config.Labels?.[Labels.unit] === spec.id
          ? `unit ${spec.id} exists; stop it first`
          : `a container named ${name} exists and is not Berth's; remove or rename it`,
      );
    }
    await this.#ensureNetwork(spec.app);
    const port = await this.#ports.allocate(spec.id, portsOf(await this.#containers()));
    try {
      return await this.#create(spec, image, name, port);
    } catch (error) {
      await this.#ports.unclaim(spec.id, port);
      throw error;
    } finally {
      this.#ports.release(port);
    }
  }

  async #create(spec: UnitSpec, image: string, name: string, port: number): Promise<UnitStatus> {
    const startedAt = new Date().toISOString();
    const env = {
      ...spec.env,
      ...berthVariables({
        app: spec.app,
        release: spec.release,
        processType: spec.processType,
        unitId: spec.id,
        port,
      }),
    };
    let container;
    try {
      container = await this.#engine.createContainer({
        name,
        Image: image,
        ...entrypointOf(spec.command),
        Env: envList(env),
        Labels: unitLabels(this.#root, spec, port, startedAt),
        ExposedPorts: { [`${port}/tcp`]: {} },
        HostConfig: hostConfigOf({
          network: appNetworkName(spec.app),
          limits: spec.limits,
          pidsLimit: this.#pidsLimit,
          readOnlyRootFilesystem: this.#readOnly,
          publish: { host: this.#host, port },
        }),
      });
    } catch (error) {
      this.#networks.delete(appNetworkName(spec.app));
      const status = engineErrorStatus(error);
      if (status === 404) {
        throw new InputError(
          `the image ${image} is not in the engine; build the release again`,
          ErrorCodes.UNIT_SPEC_INVALID,
        );
      }
      if (status === 409)
        throw new ConflictError(`a container named ${name} exists`, ErrorCodes.UNIT_EXISTS);
      throw error;
    }
    const target = {
      unitId: spec.id,
      app: spec.app,
      release: spec.release,
      processType: spec.processType,
      index: spec.index,
    };
    const tracked = this.#track(target, spec.restart, spec.limits?.memoryBytes, 'created', {
      restarts: 0,
      consecutive: 0,
      crashed: false,
    });
    this.#persist(tracked);
    try {
      await container.start();
    } catch (error) {
      this.#forget(tracked);
      await container.remove({ force: true }).catch(() => undefined);
      this.#layout.removeState(spec.id);
      throw new Error(`the engine could not start unit ${spec.id}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    // Unless a stop, or an exit that came before the engine's answer, moved it on already.
    if (tracked.lifecycle.kind === 'starting') this.#move(tracked, { kind: 'up' });
    tracked.capture.follow();
    // Built from what we know rather than asked of the engine: a start is on every deploy's
    // critical path, and list() tells the truth a moment later anyway.
    return {
      id: spec.id,
      app: spec.app,
      release: spec.release,
      processType: spec.processType,
      index: spec.index,
      state: startedPhase(tracked.lifecycle.kind),
      address: { host: this.#host, port },
      startedAt,
      restarts: 0,
      limits: { ...spec.limits },
    };
  }

  /** Single-flight and a non-negative grace are the RuntimeDriver wrapper's. */
  async stop(unitId: string, options: { readonly graceMs: number }): Promise<void> {
    await this.#stop(unitId, options.graceMs);
    await this.#ports.unclaim(unitId);
  }

  async #stop(unitId: string, graceMs: number): Promise<void> {
    const name = containerName(unitId);
    const tracked = this.#units.get(unitId);
    const exitHandled = tracked ? this.#beginStop(tracked) : undefined;
    const info = await this.#inspect(name);
    if (!info || info.Config.Labels?.[Labels.unit] !== unitId) {
      if (tracked) this.#forget(tracked);
      this.#layout.removeState(unitId);
      return;
    }
    const container = this.#engine.getContainer(name);
    if (info.State.Running) {
      await container.kill({ signal: 'SIGTERM' }).catch(() => undefined);
      if (!(await this.#waitExited(name, graceMs))) {
        await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
        await this.#waitExited(name, KILL_WAIT_MS);
      }
    }
    if (tracked) {
      await exitHandled;
      await tracked.capture.catchUp(true).catch(() => undefined);
      tracked.capture.system('stopped');
      this.#forget(tracked);
    }
    await container.remove({ force: true }).catch((error: unknown) => {
      if (engineErrorStatus(error) !== 404) throw error;
    });
    this.#layout.removeState(unitId);
  }

  async list(filter?: { readonly app?: string }): Promise<UnitStatus[]> {
    return (await this.#statuses(filter)).sort(byAppTypeIndex);
  }

  async #statuses(filter?: { readonly app?: string }): Promise<UnitStatus[]> {
    return (await this.#containers(filter?.app)).map((info) => this.#statusOf(info));
  }

  #statusOf(info: ContainerInfo): UnitStatus {
    const labels = labelsOf(info);
    const id = labels[Labels.unit] ?? '';
    const tracked = this.#units.get(id);
    const state = tracked?.state ?? this.#layout.readState(id);
    return {
      id,
      app: labels[Labels.app] ?? '',
      release: Number(labels[Labels.release]),
      processType: labels[Labels.process] ?? '',
      index: Number(labels[Labels.index]),
      state: listedPhase(tracked?.lifecycle.kind, state.crashed, info.State),
      address: { host: this.#host, port: Number(labels[Labels.port]) },
      startedAt: labels[Labels.startedAt] ?? new Date(info.Created * 1000).toISOString(),
      restarts: state.restarts,
      ...(state.lastExit ? { lastExit: state.lastExit } : {}),
      limits: {
        ...(labels[Labels.memory] === undefined
          ? {}
          : { memoryBytes: Number(labels[Labels.memory]) }),
        ...(labels[Labels.cpus] === undefined ? {} : { cpus: Number(labels[Labels.cpus]) }),
      },
    };
  }

  readLogs(query: LogQuery): Promise<LogLine[]> {
    return readLogLines(this.#layout.appLogDir(query.app), query);
  }

  async followLogs(
    query: LogQuery,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void> {
    await mkdir(this.#layout.appLogDir(query.app), { recursive: true, mode: 0o700 });
    await this.#follows.follow(this.#layout.appLogDir(query.app), query, onLine, signal);
  }

  async run(
    spec: OneOffSpec,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<OneOffResult> {
    const image = imageOf(spec.artifact);
    await this.#ensureNetwork(spec.app);
    await mkdir(this.#layout.appLogDir(spec.app), { recursive: true, mode: 0o700 });
    const aborted = new AbortController();
    const forward = () => aborted.abort();
    signal.addEventListener('abort', forward, { once: true });
    if (signal.aborted) aborted.abort();
    const running = { app: spec.app, ended: Promise.resolve() as Promise<unknown> };
    this.#runs.set(aborted, running);
    try {
      const result = runOneOffContainer({
        engine: this.#engine,
        spec,
        image,
        network: appNetworkName(spec.app),
        pidsLimit: this.#pidsLimit,
        readOnlyRootFilesystem: this.#readOnly,
        rootLabel: this.#root,
        logFile: this.#layout.logFile(spec.app, spec.id),
        logFileLimitBytes: this.#logFileLimitBytes,
        onLine,
        signal: aborted.signal,
      });
      running.ended = result.catch(() => undefined);
      return await result;
    } finally {
      signal.removeEventListener('abort', forward);
      this.#runs.delete(aborted);
    }
  }

  /**
   * Removes all of an app this runtime root holds: its one-offs aborted, its units stopped
   * (SIGTERM, REMOVE_GRACE_MS, SIGKILL) and their containers removed, whatever else the engine
   * holds labelled for the app and this root removed too, then its network and its log files.
   * The caller has taken the app's traffic away first; its images are the build's to remove.
   */
  async removeApp(app: string): Promise<void> {
    const runs = [...this.#runs].filter(([, run]) => run.app === app);
    for (const [abort] of runs) abort.abort();
    const ids = new Set((await this.#containers(app)).map((info) => labelsOf(info)[Labels.unit]));
    for (const tracked of this.#units.values()) if (tracked.app === app) ids.add(tracked.id);
    await Promise.all(
      [...ids]
        .filter((id) => id !== undefined)
        .map((id) => this.stop(id, { graceMs: REMOVE_GRACE_MS })),
    );
    // A one-off's own cleanup removes its container; it must end before its log file goes.
    await Promise.all(runs.map(([, run]) => run.ended));
    await removeAppContainers(this.#engine, this.#root, app);
    this.#networks.delete(appNetworkName(app));
    const subnets = await this.#engine
      .getNetwork(appNetworkName(app))
      .inspect()
      .then(subnetsOf, () => []);
    if ((await removeAppNetwork(this.#engine, appNetworkName(app))) === 'removed') {
      const guard = await this.#networkGuard();
      for (const subnet of subnets) await guard?.release(subnet);
    }
    await rm(this.#layout.appLogDir(app), { recursive: true, force: true });
  }

  /**
   * Lets go of the engine's events and the log streams; containers keep running. Stops in
   * flight have ended: the RuntimeDriver wrapper waits for them first.
   */
  destroy(): Promise<void> {
    this.#destroyed = true;
    clearTimeout(this.#eventsRetry);
    this.#events?.destroy();
    this.#follows.endAll();
    for (const run of this.#runs.keys()) run.abort();
    for (const tracked of this.#units.values()) {
      if (tracked.lifecycle.kind === 'restarting') clearTimeout(tracked.lifecycle.timer);
      this.#persist(tracked);
      tracked.capture.close();
    }
    this.#units.clear();
    return Promise.resolve();
  }

  // --- units the driver tracks -------------------------------------------------------------

  #track(
    target: CaptureTarget,
    policy: RestartPolicy,
    memoryBytes: number | undefined,
    how: 'created' | 'adopted',
    state: UnitState,
  ): TrackedUnit {
    let cursorWritten = 0;
    const name = containerName(target.unitId);
    const tracked: TrackedUnit = {
      id: target.unitId,
      app: target.app,
      name,
      policy,
      memoryBytes,
      state,
      lifecycle: initialLifecycle(how, state.crashed),
      capture: new LogCapture({
        engine: this.#engine,
        containerName: name,
        file: this.#layout.logFile(target.app, target.unitId),
        fileLimitBytes: this.#logFileLimitBytes,
        target,
        cursor: state.cursor,
        onCursor: (cursor: LogCursor) => {
          tracked.state = { ...tracked.state, cursor };
          // At most a few writes a second: a crash loses at most that much of the cursor,
          // and the lines of that moment are copied twice rather than lost.
          if (Date.now() - cursorWritten > 250) {
            cursorWritten = Date.now();
            this.#persist(tracked);
          }
        },
      }),
    };
    this.#units.set(target.unitId, tracked);
    return tracked;
  }

  /** Moves a unit to its next state; the table in unit-lifecycle says which moves exist. */
  #move(tracked: TrackedUnit, next: UnitLifecycle): void {
    tracked.lifecycle = moveLifecycle(tracked.lifecycle, next);
  }

  /**
   * Takes a unit out of the restart loop: a backoff's timer is cleared, and an exit being
   * handled is returned, for the stop to wait for (its last lines come before "stopped").
   * A second stop of the same unit (removeApp beside a caller's stop) changes nothing.
   */
  #beginStop(tracked: TrackedUnit): Promise<void> | undefined {
    const now = tracked.lifecycle;
    if (now.kind === 'stopping' || now.kind === 'gone') return undefined;
    if (now.kind === 'restarting') clearTimeout(now.timer);
    this.#move(tracked, { kind: 'stopping' });
    return now.kind === 'exited' ? now.handled : undefined;
  }

  #forget(tracked: TrackedUnit): void {
    const now = tracked.lifecycle;
    if (now.kind === 'gone') return;
    if (now.kind === 'restarting') clearTimeout(now.timer);
    tracked.capture.close();
    this.#units.delete(tracked.id);
    // Forgetting is a stop the driver makes itself: a start the engine refused, a stop's end.
    if (now.kind !== 'starting' && now.kind !== 'stopping')
      this.#move(tracked, { kind: 'stopping' });
    this.#move(tracked, { kind: 'gone' });
  }

  #persist(tracked: TrackedUnit): void {
    if (tracked.lifecycle.kind === 'gone') return;
    this.#layout.writeState(tracked.id, tracked.state);
  }

  /** Tracks a container found in the engine (adoption). */
  #adopt(info: ContainerInfo): TrackedUnit {
    const labels = labelsOf(info);
    const id = labels[Labels.unit] ?? '';
    const existing = this.#units.get(id);
    if (existing) return existing;
    const memory = labels[Labels.memory];
    return this.#track(
      {
        unitId: id,
        app: labels[Labels.app] ?? '',
        release: Number(labels[Labels.release]),
        processType: labels[Labels.process] ?? '',
        index: Number(labels[Labels.index]),
      },
      restartPolicyOf(labels[Labels.restart]),
      memory === undefined ? undefined : Number(memory),
      'adopted',
      this.#layout.readState(id),
    );
  }

  // --- the engine's view -------------------------------------------------------------------

  async #containers(app?: string): Promise<ContainerInfo[]> {
    const label = [
      `${Labels.root}=${this.#root}`,
      `${Labels.kind}=unit`,
      ...(app === undefined ? [] : [`${Labels.app}=${app}`]),
    ];
    return this.#engine.listContainers({ all: true, filters: { label } });
  }

  async #inspect(name: string) {
    try {
      return await this.#engine.getContainer(name).inspect();
    } catch (error) {
      if (engineErrorStatus(error) === 404) return undefined;
      throw error;
    }
  }

  async #waitExited(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.#inspect(name);
      if (!info?.State.Running) return true;
      if (Date.now() >= deadline) return false;
      await sleep(POLL_MS);
    }
  }

  async #ensureNetwork(app: string): Promise<void> {
    const name = appNetworkName(app);
    if (this.#networks.has(name)) return;
    const subnets = await this.#createNetwork(app, name);
    // Guarded before any container of the app starts on it.
    const guard = await this.#networkGuard();
    for (const subnet of subnets) await guard?.protect(subnet);
    this.#networks.add(name);
  }

  /** The network's IPv4 subnets, after making it if it was not there. */
  async #createNetwork(app: string, name: string): Promise<string[]> {
    try {
      return subnetsOf(await this.#engine.getNetwork(name).inspect());
    } catch (error) {
      if (engineErrorStatus(error) !== 404) throw error;
    }
    try {
      await this.#engine.createNetwork({
        Name: name,
        Labels: { [Labels.root]: this.#root, [Labels.app]: app },
        // Podman's compat API isolates a new bridge from the others by default (4.3, seen);
        // said here so that no default can change it. Docker isolates its bridges anyway.
        Options: { isolate: 'true' },
      });
    } catch (error) {
      // Another start of the same app made it first (Docker says 409, Podman 500).
      await this.#engine
        .getNetwork(name)
        .inspect()
        .catch(() => {
          throw error;
        });
    }
    return subnetsOf(await this.#engine.getNetwork(name).inspect());
  }

  /** The guard the options name, or the host's iptables where it can be used (once). */
  #networkGuard(): Promise<NetworkGuard | undefined> {
    this.#guard ??= (async () => {
      const chosen = this.#guardOption;
      if (chosen === 'engine-only') return undefined;
      return chosen ?? (await IptablesNetworkGuard.ifAvailable());
    })();
    return this.#guard;
  }

  // --- exits and restarts ------------------------------------------------------------------

  async #followEvents(): Promise<void> {
    if (this.#destroyed) return;
    const stream = (await this.#engine.getEvents({
      // No 'event' filter: Podman's compat API does not apply it; the handler picks.
      filters: { type: ['container'], label: [`${Labels.root}=${this.#root}`] },
    })) as unknown as Readable;
    this.#events = stream;
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.#onEvent(line);
    });
    const broken = () => {
      if (this.#events !== stream || this.#destroyed) return;
      this.#events = undefined;
      this.#followEventsLater();
    };
    stream.on('end', broken);
    stream.on('close', broken);
    stream.on('error', broken);
  }

  /**
   * The engine restarted or the socket broke: follow again after a pause, then look for exits
   * missed meanwhile. While the engine stays away, every attempt that fails schedules the next
   * one, however long it takes to come back.
   */
  #followEventsLater(): void {
    if (this.#destroyed) return;
    clearTimeout(this.#eventsRetry);
    this.#eventsRetry = setTimeout(() => {
      this.#followEvents()
        .then(() => this.#rescan())
        .catch(() => {
          if (!this.#events) this.#followEventsLater();
        });
    }, EVENTS_RETRY_MS);
  }

  #onEvent(line: string): void {
    let event: {
      status?: string;
      Action?: string;
      Actor?: { Attributes?: Record<string, string> };
    };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const action = event.Action ?? event.status;
    const attributes = event.Actor?.Attributes ?? {};
    const id = attributes[Labels.unit];
    if (!id || attributes[Labels.kind] !== 'unit') return;
    if (action === 'oom') {
      const tracked = this.#units.get(id);
      if (tracked) tracked.state = { ...tracked.state, lastExit: this.#oomMark(tracked) };
      return;
    }
    if (action === 'die') this.#exited(id);
  }

  #oomMark(tracked: TrackedUnit): UnitExit {
    return {
      code: null,
      signal: 'SIGKILL',
      at: new Date().toISOString(),
      reason: 'oom',
      ...tracked.state.lastExit,
    };
  }

  /** Adopts what the engine holds and handles exits that happened while nobody watched. */
  async #rescan(): Promise<void> {
    for (const info of await this.#containers()) {
      const tracked = this.#adopt(info);
      if (tracked.lifecycle.kind === 'stopping') continue;
      if (info.State === 'running') tracked.capture.follow();
      else if (info.State === 'exited' || info.State === 'stopped') this.#exited(tracked.id);
    }
  }

  /** A unit's container exited: record how, then restart it after its backoff, or give up. */
  #exited(id: string): void {
    const tracked = this.#units.get(id);
    const now = tracked?.lifecycle.kind;
    // Only a unit that runs (or is starting) can exit; any other state has seen this exit.
    if (!tracked || (now !== 'up' && now !== 'starting')) return;
    const handled = this.#handleExit(tracked).catch(() => {
      // The engine did not answer: the next event or rescan looks again.
      if (tracked.lifecycle.kind === 'exited') this.#move(tracked, { kind: 'up' });
    });
    this.#move(tracked, { kind: 'exited', handled });
  }

  async #handleExit(tracked: TrackedUnit): Promise<void> {
    const info = await this.#inspect(tracked.name);
    if (tracked.lifecycle.kind !== 'exited') return;
    if (!info || info.State.Running) {
      this.#move(tracked, { kind: 'up' });
      return;
    }
    await tracked.capture.catchUp(true).catch(() => undefined);
    const { code, signal } = exitOf(info.State.ExitCode);
    const oom = info.State.OOMKilled || (signal === 'SIGKILL' && tracked.memoryBytes !== undefined);
    const exit: UnitExit = {
      code,
      signal,
      at: info.State.FinishedAt,
      ...(oom ? { reason: 'oom' } : {}),
    };
    const ran = Date.parse(info.State.FinishedAt) - Date.parse(info.State.StartedAt);
    tracked.capture.system(
      oom
        ? `killed: out of memory (limit ${tracked.memoryBytes ?? '?'} bytes)`
        : `exited (${signal ? `signal ${signal}` : `code ${code}`})`,
    );
    const decision = decideRestart(tracked.policy, tracked.state.consecutive, ran, { oom });
    const consecutive = decision.inRow;
    // A stop that came meanwhile has the unit now: the exit is recorded, nothing more.
    const stillOurs = tracked.lifecycle.kind === 'exited';
    if (decision.kind === 'give-up') {
      tracked.state = { ...tracked.state, consecutive, crashed: true, lastExit: exit };
      tracked.capture.system(decision.line);
      this.#persist(tracked);
      if (stillOurs) this.#move(tracked, { kind: 'gave-up' });
      return;
    }
    tracked.state = { ...tracked.state, consecutive, lastExit: exit };
    this.#persist(tracked);
    tracked.capture.system(decision.line);
    if (!stillOurs) return;
    const timer = setTimeout(() => void this.#restart(tracked), decision.delayMs);
    this.#move(tracked, { kind: 'restarting', timer });
  }

  async #restart(tracked: TrackedUnit): Promise<void> {
    if (tracked.lifecycle.kind !== 'restarting' || this.#destroyed) return;
    try {
      await this.#engine.getContainer(tracked.name).start();
    } catch (error) {
      tracked.state = { ...tracked.state, crashed: true };
      tracked.capture.system(`could not restart: ${(error as Error).message}`);
      this.#persist(tracked);
      if (tracked.lifecycle.kind === 'restarting') this.#move(tracked, { kind: 'gave-up' });
      return;
    }
    tracked.state = {
      ...tracked.state,
      restarts: tracked.state.restarts + 1,
      consecutive: tracked.state.consecutive + 1,
    };
    this.#persist(tracked);
    if (tracked.lifecycle.kind !== 'restarting') return;
    this.#move(tracked, { kind: 'up' });
    tracked.capture.follow();
    // An exit while we restarted it came before the unit was up again, and was not handled.
    const info = await this.#inspect(tracked.name).catch(() => undefined);
    if (info && !info.State.Running) this.#exited(tracked.id);
  }
}
