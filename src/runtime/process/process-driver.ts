import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, ErrorCodes, InputError } from '../../errors/index.js';
import type {
  Driver,
  LogLine,
  LogQuery,
  OneOffResult,
  OneOffSpec,
  UnitArtifact,
  UnitSpec,
  UnitStatus,
} from '../driver.js';
import type { AppAccount } from '../driver.js';
import { AppSandboxes, type ProcessJail } from './app-sandbox.js';
import { RuntimeLayout } from './layout.js';
import { LogFollows, readLogLines, RotatingLogFile } from '../unit-logs/index.js';
import { runOneOff } from './one-off.js';
import { SUPERVISOR_FILE, SupervisorSpares } from './spare-supervisors.js';
import { PortAllocator, type PortClaims, type PortRange } from '../ports/index.js';
import { groupAlive, processAlive, sendSignal, unitGroupAlive } from './proc-table.js';
import { commandArgv, unitEnvironment } from './unit-env.js';
import {
  observe,
  readRecord,
  recordedUnitIds,
  type ObservedUnit,
  type RecordedUnit,
} from './unit-record.js';

/** Options of the process runtime. */
export interface ProcessDriverOptions {
  /** The runtime's own directory, e.g. `<data-dir>/runtime` (see RuntimeLayout). */
  readonly root: string;
  /** The ports units get; default 20000–29999. */
  readonly portRange?: PortRange;
  /** Where units listen and are reached; default 127.0.0.1. */
  readonly host?: string;
  /**
   * The host's port claims, so that the units of several controllers of one host (each with a
   * runtime of its own) never get one port; default none: ports are kept apart among this
   * driver's units only.
   */
  readonly portClaims?: PortClaims;
  /** A log file is rotated (one old file kept) when it reaches this size; default 5 MiB. */
  readonly logFileLimitBytes?: number;
  /** The Node that runs supervisors; default the controller's own (process.execPath). */
  readonly nodePath?: string;
  /**
   * How apps are kept apart (see AppSandboxes); default none: every unit runs as the
   * controller's user, as a library user of the driver would expect. The server passes the
   * machine's (detectIsolation), so that a root controller runs each app as a user of its own.
   */
  readonly sandboxes?: AppSandboxes;
  /**
   * Whether one supervisor is kept started ahead of need, waiting for its unit on stdin, so
   * that a start does not wait for a Node to boot (a server's driver does; default off, so
   * that a driver used only to list or stop units starts no process).
   */
  readonly spareSupervisor?: boolean;
  /**
   * A spare supervisor lent by the owner of several short-lived drivers (the add-on servers'),
   * which closes it; a start takes from it. Wins over `spareSupervisor`.
   */
  readonly spares?: SupervisorSpares;
}

/** How long a new supervisor may take to record that it spawned the unit. */
const START_TIMEOUT_MS = 10_000;
/** What stop() gives a supervisor beyond the grace period before killing it itself. */
const STOP_MARGIN_MS = 2000;
/** The grace period a supervisor uses when it is stopped by someone other than stop(). */
const DEFAULT_GRACE_MS = 10_000;
const POLL_MS = 20;

function directoryOf(artifact: UnitArtifact): string {
  if (artifact.kind !== 'directory') {
    throw new InputError(
      `the process runtime runs directory artifacts, not ${artifact.kind}s`,
      ErrorCodes.UNIT_SPEC_INVALID,
    );
  }
  return artifact.path;
}

/** Unit id → port, as the allocator takes the runtime's units. */
function portsOf(units: readonly ObservedUnit[]): Map<string, number> {
  return new Map(units.map((unit) => [unit.record.unit.id, unit.record.port]));
}

/**
 * Polls until `done` is true or the deadline passes; says which. With `wake`, a poll also runs
 * as soon as it calls back (the supervisor said its record changed), not only every POLL_MS.
 */
async function waitFor(
  done: () => Promise<boolean>,
  timeoutMs: number,
  wake?: (poll: () => void) => void,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let woken = false;
  let pause: AbortController | undefined;
  wake?.(() => {
    woken = true;
    pause?.abort();
  });
  for (;;) {
    woken = false;
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    // A wake that came while `done` ran is not waited for again.
    if (woken) continue;
    pause = new AbortController();
    await sleep(POLL_MS, undefined, { signal: pause.signal }).catch(() => undefined);
    pause = undefined;
  }
}

/**
 * Calls `onReport` when the supervisor writes to its stdout (it does once its record says
 * the unit is no longer starting) or exits, then lets go of the pipe: it must hold neither
 * the controller's event loop nor the supervisor, which outlives the controller.
 */
function onStartReport(child: ChildProcess, onReport: () => void): void {
  const pipe = child.stdout;
  if (!pipe) return;
  const done = () => {
    pipe.destroy();
    onReport();
  };
  pipe.once('data', done);
  pipe.once('end', done);
  pipe.once('error', done);
  (pipe as unknown as { unref?: () => void }).unref?.();
}

/**
 * The process runtime: each unit runs as a process group on this machine under a small
 * supervisor of its own (supervisor.js), detached from the controller like Podman's conmon.
 * The supervisor restarts the unit, writes its log and its record, and outlives the
 * controller; a new driver on the same root adopts the units by reading their records.
 * With sandboxes that isolate by user, each app's processes run as its own uid in control
 * groups that enforce the formation's memory and CPU and a pids cap (AppSandboxes), and
 * stopping a unit kills everything in its group.
 */
export class ProcessDriver implements Driver {
  readonly kind = 'process';
  readonly #layout: RuntimeLayout;
  readonly #host: string;
  readonly #ports: PortAllocator;
  readonly #logFileLimitBytes: number;
  readonly #nodePath: string;
  /** Followers to end on destroy(). */
  readonly #follows = new LogFollows();
  readonly #sandboxes: AppSandboxes;
  /** Where starts take a booted supervisor from, if anywhere. */
  readonly #spares: SupervisorSpares | undefined;
  /** Whether #spares is this driver's own, to start on init and close on destroy. */
  readonly #ownsSpares: boolean;

  constructor(options: ProcessDriverOptions) {
    this.#layout = new RuntimeLayout(options.root);
    this.#host = options.host ?? '127.0.0.1';
    this.#ports = new PortAllocator(options.portRange ?? { from: 20_000, to: 29_999 }, {
      host: this.#host,
      claims: options.portClaims,
    });
    this.#logFileLimitBytes = options.logFileLimitBytes ?? 5 * 1024 * 1024;
    this.#nodePath = options.nodePath ?? process.execPath;
    this.#ownsSpares = options.spares === undefined && options.spareSupervisor === true;
    this.#spares =
      options.spares ??
      (this.#ownsSpares
        ? new SupervisorSpares({ nodePath: this.#nodePath, cwd: this.#layout.root })
        : undefined);
    this.#sandboxes =
      options.sandboxes ??
      new AppSandboxes({
        isolation: { kind: 'none', reason: 'no isolation was asked for' },
        appsRoot: path.join(options.root, 'apps'),
        scopeKey: options.root,
      });
  }

  /** How this driver keeps apps apart. */
  get sandboxes(): AppSandboxes {
    return this.#sandboxes;
  }

  async init(): Promise<void> {
    await mkdir(this.#layout.unitsDir, { recursive: true, mode: 0o700 });
    await mkdir(this.#layout.logsDir, { recursive: true, mode: 0o700 });
    await this.#ports.adopt(portsOf(await this.#observeAll()));
    if (this.#ownsSpares) this.#spares?.start();
  }

  async start(spec: UnitSpec): Promise<UnitStatus> {
    const cwd = directoryOf(spec.artifact);
    // A start of an id already starting is refused by the RuntimeDriver wrapper.
    const units = await this.#observeAll();
    if (units.some((unit) => unit.record.unit.id === spec.id)) {
      throw new ConflictError(`unit ${spec.id} exists; stop it first`, ErrorCodes.UNIT_EXISTS);
    }
    return await this.#startWithPort(spec, cwd, portsOf(units));
  }

  async #startWithPort(
    spec: UnitSpec,
    cwd: string,
    units: ReadonlyMap<string, number>,
  ): Promise<UnitStatus> {
    const port = await this.#ports.allocate(spec.id, units);
    try {
      // Independent of each other: made side by side. A jail made for nothing is released.
      const [files, made] = await Promise.allSettled([
        Promise.all([
          mkdir(this.#layout.appLogDir(spec.app), { recursive: true, mode: 0o700 }),
          rm(this.#layout.stopFile(spec.id), { force: true }),
        ]),
        this.#sandboxes.jail(spec.id, spec.account, spec.limits),
      ]);
      if (files.status === 'rejected') {
        if (made.status === 'fulfilled') await made.value.release().catch(() => undefined);
        throw files.reason;
      }
      if (made.status === 'rejected') throw made.reason;
      const jail = made.value;
      try {
        const supervisor = this.#spawnSupervisor(spec, cwd, port, jail);
        return await this.#awaitStarted(spec.id, supervisor);
      } catch (error) {
        await jail.release().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      await this.#ports.unclaim(spec.id, port);
      throw error;
    } finally {
      this.#ports.release(port);
    }
  }

  /** Hands the unit to the spare, or spawns a supervisor for it; the supervisor's process. */
  #spawnSupervisor(
    spec: UnitSpec,
    cwd: string,
    port: number,
    jail: ProcessJail,
  ): ChildProcess & { readonly pid: number } {
    const unit: RecordedUnit = {
      id: spec.id,
      app: spec.app,
      release: spec.release,
      processType: spec.processType,
      index: spec.index,
      command: spec.command,
      artifactPath: cwd,
      restart: spec.restart,
      // Reported only where the control group enforces them.
      ...(jail.cgroup && spec.limits ? { limits: spec.limits } : {}),
    };
    const plan = {
      unit,
      argv: jail.wrap(commandArgv(spec.command)),
      cwd,
      host: this.#host,
      port,
      recordFile: this.#layout.recordFile(spec.id),
      stopFile: this.#layout.stopFile(spec.id),
      logFile: this.#layout.logFile(spec.app, spec.id),
      logFileLimitBytes: this.#logFileLimitBytes,
      defaultGraceMs: DEFAULT_GRACE_MS,
      cgroup: jail.cgroup
        ? { procsFiles: jail.cgroup.procsFiles, oomFile: jail.cgroup.oomFile }
        : null,
    };
    const env = unitEnvironment(
      { ...jail.env, ...spec.env },
      {
        app: spec.app,
        release: spec.release,
        processType: spec.processType,
        unitId: spec.id,
        port,
      },
    );
    if (env['PATH'] !== undefined) env['PATH'] = jail.reachablePath(env['PATH']);
    // Secrets reach the supervisor only through its stdin or its environment, never a file;
    // the supervisor's own environment holds nothing else.
    const spare = this.#spares?.take();
    if (spare?.stdin) {
      spare.stdin.end(JSON.stringify({ plan, env }));
      return spare;
    }
    const supervisor = spawn(this.#nodePath, [SUPERVISOR_FILE], {
      cwd: this.#layout.root,
      env: {
        BERTH_SUPERVISOR_SPEC: JSON.stringify(plan),
        BERTH_SUPERVISOR_ENV: JSON.stringify(env),
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    supervisor.on('error', () => undefined); // seen below as a supervisor that never records
    supervisor.unref();
    if (supervisor.pid === undefined) {
      supervisor.stdout?.destroy();
      throw new Error(`could not start the supervisor of ${spec.id}`);
    }
    return supervisor as ChildProcess & { readonly pid: number };
  }

  /**
   * Waits until the supervisor has spawned the unit (or given up on it): its record says so.
   * The record is read when the supervisor reports on its stdout, and every POLL_MS besides.
   */
  async #awaitStarted(
    unitId: string,
    supervisor: ChildProcess & { readonly pid: number },
  ): Promise<UnitStatus> {
    const supervisorPid = supervisor.pid;
    let observed: ObservedUnit | undefined;
    const started = await waitFor(
      async () => {
        const record = await readRecord(this.#layout, unitId);
        if (record?.supervisor.pid !== supervisorPid) return false;
        observed = await observe(record);
        return observed.status.state !== 'starting';
      },
      START_TIMEOUT_MS,
      (poll) => onStartReport(supervisor, poll),
    );
    // Read or not, the pipe is let go of.
    supervisor.stdout?.destroy();
    if (observed && (started || observed.supervisorAlive)) return observed.status;
    sendSignal(supervisorPid, 'SIGKILL');
    throw new Error(`the supervisor of unit ${unitId} did not start it in ${START_TIMEOUT_MS} ms`);
  }

  /** Single-flight and a non-negative grace are the RuntimeDriver wrapper's. */
  async stop(unitId: string, options: { readonly graceMs: number }): Promise<void> {
    await this.#stop(unitId, options.graceMs);
    await this.#ports.unclaim(unitId);
  }

  async #stop(unitId: string, graceMs: number): Promise<void> {
    const record = await readRecord(this.#layout, unitId);
    if (!record) return;
    const { supervisor, child } = record;
    if (await processAlive(supervisor.pid, supervisor.startTime)) {
      await writeFile(this.#layout.stopFile(unitId), JSON.stringify({ graceMs }), { mode: 0o600 });
      sendSignal(supervisor.pid, 'SIGTERM');
      const exited = await waitFor(
        async () => !(await processAlive(supervisor.pid, supervisor.startTime)),
        graceMs + STOP_MARGIN_MS,
      );
      if (!exited) sendSignal(supervisor.pid, 'SIGKILL');
    }
    // A lost unit's orphans, or what a supervisor that did not finish left behind.
    const latest = (await readRecord(this.#layout, unitId))?.child ?? child;
    if (latest && (await unitGroupAlive(latest.pgid, latest.startTime))) {
      sendSignal(-latest.pgid, 'SIGTERM');
      const gone = await waitFor(async () => !(await groupAlive(latest.pgid)), graceMs);
      if (!gone) sendSignal(-latest.pgid, 'SIGKILL');
      await waitFor(async () => !(await groupAlive(latest.pgid)), STOP_MARGIN_MS);
    }
    // Whatever left the process group is still in the unit's control group.
    await this.#sandboxes.cgroupOf(unitId)?.remove();
    await rm(this.#layout.recordFile(unitId), { force: true });
    await rm(this.#layout.stopFile(unitId), { force: true });
  }

  async list(filter?: { readonly app?: string }): Promise<UnitStatus[]> {
    const units = (await this.#observeAll())
      .map((unit) => unit.status)
      .filter((status) => filter?.app === undefined || status.app === filter.app);
    return units.sort(
      (a, b) =>
        a.app.localeCompare(b.app) ||
        a.processType.localeCompare(b.processType) ||
        a.index - b.index ||
        a.id.localeCompare(b.id),
    );
  }

  async #observeAll(): Promise<ObservedUnit[]> {
    const observed: ObservedUnit[] = [];
    for (const id of await recordedUnitIds(this.#layout)) {
      const record = await readRecord(this.#layout, id);
      if (record) observed.push(await observe(record));
    }
    return observed;
  }

  readLogs(query: LogQuery): Promise<LogLine[]> {
    return readLogLines(this.#layout.appLogDir(query.app), query);
  }

  followLogs(query: LogQuery, onLine: (line: LogLine) => void, signal: AbortSignal): Promise<void> {
    return this.#follows.follow(this.#layout.appLogDir(query.app), query, onLine, signal);
  }

  async run(
    spec: OneOffSpec,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<OneOffResult> {
    const cwd = directoryOf(spec.artifact);
    await mkdir(this.#layout.appLogDir(spec.app), { recursive: true, mode: 0o700 });
    const log = new RotatingLogFile(
      this.#layout.logFile(spec.app, spec.id),
      this.#logFileLimitBytes,
    );
    const jail = await this.#sandboxes.jail(spec.id, spec.account, spec.limits);
    try {
      return await runOneOff(spec, cwd, jail, log, onLine, signal);
    } finally {
      log.close();
      await jail.release();
    }
  }

  async removeApp(app: string, account?: AppAccount): Promise<void> {
    const units = (await this.#observeAll()).filter((unit) => unit.record.unit.app === app);
    await Promise.all(units.map((unit) => this.stop(unit.record.unit.id, { graceMs: 0 })));
    if (account) await this.#sandboxes.removeApp(account);
    await rm(this.#layout.appLogDir(app), { recursive: true, force: true });
  }

  /**
   * Ends log followers; units keep running under their supervisors. Stops in flight have
   * ended: the RuntimeDriver wrapper waits for them first.
   */
  destroy(): Promise<void> {
    // A lent spare is its owner's to close.
    if (this.#ownsSpares) this.#spares?.close();
    this.#follows.endAll();
    return Promise.resolve();
  }
}
