import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ConflictError, ErrorCodes } from '../../errors/index.js';
import {
  HEALTHCHECK_DEFAULTS,
  readProject,
  type Healthcheck,
  type Project,
  type SlugStore,
} from '../../build/index.js';
import {
  formatMemory,
  type FormationEntry,
  type FormationService,
} from '../../domain/formation/index.js';
import type { ProcessConfigService } from '../../domain/process-configs/index.js';
import { runsUnits, type Release, type ReleasesService } from '../../domain/releases/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import type { RoutesService, RouteTargetSpec } from '../../domain/routes/index.js';
import type { Logger } from '../../logging/index.js';
import {
  checkHealth,
  type AppAccount,
  type DiskUsage,
  type Driver,
  type OneOffResult,
  type UnitArtifact,
  type UnitLimits,
  type UnitArtifacts,
  type UnitStatus,
} from '../../runtime/index.js';
import type { RouterSync } from '../router-sync/index.js';
import type { AppLocks } from './app-locks.js';
import { phasesOf, runPhase, type DeployPhases, type RolloutPhases } from './release-phase.js';
import { limitsOf, processEnv, unitSpec, type ProcessTemplate } from './unit-specs.js';

/** The app a runner acts on: its id for the store, its name for the runtime and hosts. */
export interface RunnerApp {
  readonly id: string;
  readonly name: string;
  /** The uid its processes run as where the runtime isolates apps by user. */
  readonly uid: number;
}

export interface ReleaseRunnerOptions {
  readonly runtime: Driver;
  readonly releases: ReleasesService;
  readonly processConfigs: ProcessConfigService;
  readonly formation: FormationService;
  readonly routes: RoutesService;
  readonly rollouts: RolloutsService;
  readonly routerSync: RouterSync;
  /** Where the runtime profile keeps each release's build directory (its slug). */
  readonly slugs: SlugStore;
  /** How the runtime profile runs releases (slug directories, images). */
  readonly artifacts: UnitArtifacts;
  readonly locks: AppLocks;
  readonly logger: Logger;
  /** How long a new unit may take to listen on PORT. */
  readonly startupTimeoutMs: number;
  /** How long old units get to finish the requests they hold after the routes moved. */
  readonly drainTimeoutMs: number;
  /** SIGTERM → SIGKILL grace of a stopping unit that served (BERTH_STOP_GRACE_MS). */
  readonly unitStopGraceMs: number;
  /**
   * How long the release phase and each deploy script may run (RELEASE_PHASE_TIMEOUT_MS
   * unless given): past it the one-off is killed and, before the switch, the rollout fails.
   */
  readonly releasePhaseTimeoutMs?: number;
}

/**
 * The release phase's and each deploy script's bound, unless the options give one: Heroku's
 * (one hour, which Heroku does not let an app extend), so that what runs there runs here.
 */
export const RELEASE_PHASE_TIMEOUT_MS = 60 * 60_000;

/**
 * A rollout that cannot go through because of the release itself (a unit that exits or fails
 * its check, units the runtime refuses, a build that is not here): trying the same release
 * again fails the same way, so it is recorded as failed and never retried. The release that
 * served before still serves. Any other error a rollout throws (the runtime or the store did not
 * answer) says nothing of the release, and a later try may go through.
 */
export class RolloutFailure extends Error {
  override readonly name = 'RolloutFailure';
}

/** Where a rollout reports progress, e.g. the task's step log. */
export interface RolloutReport {
  readonly signal: AbortSignal;
  log(line: string): void;
  /**
   * Whether the caller tries the release again after an error that is not a RolloutFailure;
   * then such an error is not recorded. Unset, every failure is recorded, so that nothing
   * rolls out on its own a release whose rollout was seen to fail.
   */
  readonly willRetry?: boolean;
  /**
   * Set when a deploy task rolls the release out: app.json's deploy scripts run around the
   * switch. Unset (a config change, a rollback), only the release phase runs.
   */
  readonly deploy?: DeployPhases;
}

const WEB = 'web';
/** The type whose config and formation one-offs run with (`berth run`, the release phase). */
const ONE_OFF = 'run';
/** How often a unit waiting for its first connection is looked up, to see it died. */
const UNIT_LOOK_MS = 100;
/**
 * Between two connects to a new unit's port. A refused connect costs well under a millisecond,
 * and this wait is most of what a deploy costs over starting the app by hand.
 */
const CONNECT_RETRY_MS = 5;
/** Listings in a row without the unit before it counts as gone. */
const MISSES_BEFORE_GONE = 3;
/** Units in these states hold their index; the reconciler does not start another in their place. */
const HOLDING: ReadonlySet<UnitStatus['state']> = new Set([
  'starting',
  'running',
  'restarting',
  'crashed',
]);
/**
 * The SIGTERM → SIGKILL grace of the new units of a failed rollout, shorter than a serving
 * unit's: the routes never moved to them, so they hold no requests to finish, and the failure
 * is reported without waiting the whole grace; long enough for a unit to flush its output.
 */
const FAILED_ROLLOUT_STOP_GRACE_MS = 2000;
/** Units in these states get traffic. */
const SERVING: ReadonlySet<UnitStatus['state']> = new Set(['starting', 'running', 'restarting']);

function addressOf(unit: UnitStatus): string {
  return `${unit.address.host}:${unit.address.port}`;
}

function byTypeThenIndex(a: UnitStatus, b: UnitStatus): number {
  return a.processType === b.processType
    ? a.index - b.index
    : a.processType < b.processType
      ? -1
      : 1;
}

/**
 * Runs releases on the runtime: rolls a release out with zero downtime (new units, health
 * checks, then the routes move, then the old units drain and stop), converges an app's units to
 * its formation, and takes an app down. Every action holds the app's lock.
 */
export class ReleaseRunner {
  readonly #o: ReleaseRunnerOptions;
  readonly #logger: Logger;

  constructor(options: ReleaseRunnerOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'release-runner' });
  }

  /**
   * Rolls `release` out. On success it serves and is recorded live; on failure (RolloutFailure)
   * every new unit is stopped, the routes never moved, and the failure is recorded so the
   * reconciler does not retry that release.
   */
  rollOut(app: RunnerApp, release: Release, report: RolloutReport): Promise<void> {
    return this.#o.locks.with(app.id, () => this.#rollOut(app, release, report));
  }

  /** Makes the app's units match its live release and formation; replaces lost units. */
  converge(app: RunnerApp): Promise<void> {
    return this.#o.locks.with(app.id, () => this.#converge(app));
  }

  /** Stops every unit of the app and removes its routes; its releases and config stay. */
  takeDown(app: RunnerApp, log: (line: string) => void): Promise<void> {
    return this.#o.locks.with(app.id, async () => {
      const removed = await this.#o.routes.remove(app.id);
      if (removed) await this.#o.routerSync.flush();
      const units = await this.#o.runtime.list({ app: app.name });
      await this.#retire(units, log);
      await this.#o.rollouts.forget(app.id);
    });
  }

  /**
   * Takes the app down (routes, units) and removes it from the runtime (whatever processes it
   * left, its logs, its private files), holding the app's lock so that no rollout or
   * convergence starts a unit meanwhile.
   */
  removeApp(app: RunnerApp, log: (line: string) => void): Promise<void> {
    return this.#o.locks.with(app.id, async () => {
      const removed = await this.#o.routes.remove(app.id);
      if (removed) await this.#o.routerSync.flush();
      await this.#retire(await this.#o.runtime.list({ app: app.name }), log);
      await this.#o.rollouts.forget(app.id);
      await this.#o.runtime.removeApp(app.name, { appId: app.id, uid: app.uid });
    });
  }

  /** The build and environment of a one-off process (`berth run`) of a release. */
  async oneOffEnvironment(app: RunnerApp, release: Release): Promise<OneOffEnvironment> {
    const template = (await this.#templates(app, release)).of(ONE_OFF);
    return {
      artifact: await this.#o.artifacts.artifactOf(template),
      env: processEnv(template),
      account: template.account,
      limits: limitsOf(template.formation),
    };
  }

  /**
   * Runs a one-off process of the app's live release, with what its processes get (config,
   * the `run` type's own config, the build's PATH), as the app's user and within the `run`
   * formation's limits, to its end, its time limit or the abort. ConflictError (NOT_DEPLOYED)
   * when no release is live.
   */
  async runOneOff(
    app: RunnerApp,
    request: OneOffRequest,
    signal: AbortSignal,
  ): Promise<OneOffResult & { readonly release: number }> {
    const live = await this.#o.rollouts.get(app.id);
    if (!live || live.version === null) {
      throw new ConflictError(`app '${app.name}' is not deployed`, ErrorCodes.NOT_DEPLOYED);
    }
    const release = await this.#o.releases.get(app.id, live.version);
    const environment = await this.oneOffEnvironment(app, release);
    const result = await this.#o.runtime.run(
      {
        id: `${app.name}-run-${randomBytes(4).toString('hex')}`,
        app: app.name,
        release: release.version,
        command:
          typeof request.command === 'string'
            ? { kind: 'shell', line: request.command }
            : { kind: 'exec', argv: [...request.command] },
        artifact: environment.artifact,
        env: environment.env,
        account: environment.account,
        limits: environment.limits,
        timeoutMs: request.timeoutMs,
      },
      () => undefined,
      signal,
    );
    return { release: release.version, ...result };
  }

  /**
   * Stops `units` of an app that is not deployed (destroyed or undeployed while they ran).
   * Exactly these: a unit started since they were listed belongs to a deploy that began since.
   */
  async stopOrphans(units: readonly UnitStatus[]): Promise<void> {
    await Promise.all(
      units.map((u) => this.#o.runtime.stop(u.id, { graceMs: this.#o.unitStopGraceMs })),
    );
  }

  async #rollOut(app: RunnerApp, release: Release, report: RolloutReport): Promise<void> {
    const started: UnitStatus[] = [];
    const old = await this.#o.runtime.list({ app: app.name });
    let phases: RolloutPhases = { before: [], after: [] };
    let oneOff: ProcessTemplate | undefined;
    try {
      let templates = await this.#templates(app, release);
      const project = await this.#projectOf(templates.slugDir);
      if (await this.#applyDeclaredSizes(app, release, project, report)) {
        templates = await this.#templates(app, release);
      }
      const healthcheck = Promise.resolve(healthcheckOf(project));
      const types = Object.keys(release.processes).sort((a, b) =>
        a === WEB ? -1 : b === WEB ? 1 : a < b ? -1 : 1,
      );
      const problem = await this.#o.artifacts.problemOf(templates.of(WEB));
      if (problem) throw new RolloutFailure(problem);
      // The release phase (and Dokku's predeploy) before any unit of the release starts: one
      // that fails fails the rollout, and the routes never move.
      phases = phasesOf(project, report.deploy);
      oneOff = templates.of(ONE_OFF);
      for (const phase of phases.before) {
        const failure = await this.#runPhase(oneOff, phase, report);
        if (failure !== undefined) {
          throw new RolloutFailure(`${failure}; no unit of v${release.version} started`);
        }
      }
      let target: RouteTargetSpec | undefined;
      const web = release.processes[WEB];
      if (web?.kind === 'static') {
        target = { kind: 'static', root: templates.slugDir };
        report.log('web: a static site, served by the router');
      } else if (web !== undefined && templates.of(WEB).formation.count === 0) {
        // Heroku's `web: 0`: no unit and no route, so the app's hosts answer 404.
        report.log('web: 0 units in the formation: the app takes no traffic and has no route');
      } else if (web !== undefined) {
        const template = templates.of(WEB);
        const count = template.formation.count;
        report.log(`web: starting ${count} unit(s) of v${release.version}`);
        const units = await this.#startHealthy(
          template,
          range(1, count),
          healthcheck,
          report,
          started,
        );
        target = { kind: 'units', upstreams: units.map(upstreamOf) };
      }
      if (target) {
        await this.#o.routes.set(app.id, app.name, target);
      } else {
        await this.#o.routes.remove(app.id);
      }
      await this.#o.routerSync.flush();
      if (target) report.log(`routes: ${app.name} now serves v${release.version}`);
      // Other process types roll after web: they take no traffic, so they need no check.
      for (const type of types) {
        if (type === WEB || !runsUnits(release.processes[type])) continue;
        const template = templates.of(type);
        const count = template.formation.count;
        if (count === 0) continue;
        report.log(`${type}: starting ${count} unit(s)`);
        for (const index of range(1, count)) {
          started.push(await this.#o.runtime.start(await unitSpec(template, index)));
        }
      }
      await this.#o.rollouts.succeeded(app.id, release.version);
    } catch (caught) {
      await this.#stopQuietly(started);
      // Stopped halfway (the task was cancelled, the controller stops): not a failure.
      if (report.signal.aborted) throw caught;
      const error = refusalOf(caught, release) ?? caught;
      if (error instanceof RolloutFailure || report.willRetry !== true) {
        await this.#o.rollouts.failed(app.id, release.version, failureText(error));
      }
      throw error;
    }
    if (old.length > 0) {
      report.log(`draining and stopping ${old.length} unit(s) of the previous release`);
      await this.#retire(old, (line) => report.log(line));
    }
    await this.#o.artifacts.prune(app.name, release.version).catch((error: unknown) => {
      this.#logger.warn({ err: error, app: app.name }, 'could not remove old builds');
    });
    // After the switch: the new release serves whatever these do, so a failure is reported.
    for (const phase of phases.after) {
      if (!oneOff || report.signal.aborted) break;
      const failure = await this.#runPhase(oneOff, phase, report).catch((error: unknown) =>
        report.signal.aborted
          ? `${phase.name} was aborted`
          : `${phase.name} could not run: ${failureText(error)}`,
      );
      if (failure !== undefined) {
        report.log(`warning: ${failure}; v${release.version} keeps serving`);
      }
    }
  }

  /** Runs a phase one-off of the rollout's release (release-phase.ts), bounded. */
  #runPhase(
    template: ProcessTemplate,
    phase: { readonly name: string; readonly line: string },
    report: RolloutReport,
  ): Promise<string | undefined> {
    return runPhase(this.#o.runtime, template, phase, {
      timeoutMs: this.#o.releasePhaseTimeoutMs ?? RELEASE_PHASE_TIMEOUT_MS,
      signal: report.signal,
      log: (line) => report.log(line),
    });
  }

  /** What the app's builds hold on this machine (images on container runtimes). */
  diskUsage(app: RunnerApp): Promise<DiskUsage | undefined> {
    return this.#o.artifacts.diskUsage(app.name);
  }

  async #converge(app: RunnerApp): Promise<void> {
    const live = await this.#o.rollouts.get(app.id);
    if (!live || live.version === null) return;
    const release = await this.#o.releases.get(app.id, live.version);
    const units = await this.#o.runtime.list({ app: app.name });
    const log = (line: string) => this.#logger.info({ app: app.name }, line);
    const templates = await this.#templates(app, release);

    // Units of another release (a rollout that died halfway), of a type the release does not
    // run, or that nothing supervises any more, go.
    const current = units.filter(
      (u) =>
        u.release === release.version &&
        runsUnits(release.processes[u.processType]) &&
        u.state !== 'lost' &&
        u.state !== 'stopped',
    );
    const stray = units.filter((u) => !current.includes(u));
    const extra: UnitStatus[] = [];
    const missing: { type: string; index: number }[] = [];
    for (const type of Object.keys(release.processes)) {
      if (!runsUnits(release.processes[type])) continue;
      const want = templates.of(type).formation.count;
      const held = new Set<number>();
      const formation = templates.of(type).formation;
      for (const unit of current.filter((u) => u.processType === type).sort(byTypeThenIndex)) {
        // A unit sized otherwise than the formation is replaced: a new one starts first.
        if (unit.index > want || held.has(unit.index) || !sizedAs(unit, formation)) {
          extra.push(unit);
        } else if (HOLDING.has(unit.state)) held.add(unit.index);
      }
      for (const index of range(1, want)) if (!held.has(index)) missing.push({ type, index });
    }
    const webCount = templates.of(WEB).formation.count;
    if (stray.length === 0 && extra.length === 0 && missing.length === 0) {
      await this.#syncWebRoute(app, release, templates.slugDir, webCount, current);
      return;
    }
    log(
      `converging v${release.version}: ${missing.length} to start, ${extra.length + stray.length} to stop`,
    );
    const healthcheck = this.#healthcheckOf(templates.slugDir);
    const started: UnitStatus[] = [];
    const signal = AbortSignal.timeout(this.#o.startupTimeoutMs * 2);
    for (const { type, index } of missing) {
      try {
        const template = templates.of(type);
        if (type === WEB) {
          started.push(
            ...(await this.#startHealthy(template, [index], healthcheck, { signal, log }, [])),
          );
        } else {
          started.push(await this.#o.runtime.start(await unitSpec(template, index)));
        }
      } catch (error) {
        this.#logger.warn({ app: app.name, err: error }, `could not start ${type}.${index}`);
      }
    }
    const leaving = new Set([...extra, ...stray].map((u) => u.id));
    const serving = [...current.filter((u) => !leaving.has(u.id)), ...started];
    await this.#syncWebRoute(app, release, templates.slugDir, webCount, serving);
    await this.#retire([...extra, ...stray], log);
  }

  /**
   * Points the app's route at its serving web units (or its static root). An app without web,
   * or scaled to 0 web units, has no route: its hosts answer 404, as for no app.
   */
  async #syncWebRoute(
    app: RunnerApp,
    release: Release,
    slugDir: string,
    webCount: number,
    units: readonly UnitStatus[],
  ): Promise<void> {
    const web = release.processes[WEB];
    let changed: boolean;
    if (web === undefined || (web.kind !== 'static' && webCount === 0)) {
      changed = await this.#o.routes.remove(app.id);
    } else if (web.kind === 'static') {
      changed = await this.#o.routes.set(app.id, app.name, { kind: 'static', root: slugDir });
    } else {
      const upstreams = units
        .filter((u) => u.processType === WEB && SERVING.has(u.state))
        .sort(byTypeThenIndex)
        .map(upstreamOf);
      changed = await this.#o.routes.set(app.id, app.name, { kind: 'units', upstreams });
    }
    if (changed) await this.#o.routerSync.flush();
  }

  /**
   * Starts units `indexes` of a type and waits until each listens (and answers the health
   * path). Any unit that fails makes the whole call fail; the units it started are in
   * `started` for the caller to stop.
   */
  async #startHealthy(
    template: ProcessTemplate,
    indexes: readonly number[],
    healthcheck: Promise<Healthcheck | undefined>,
    report: RolloutReport,
    started: UnitStatus[],
  ): Promise<UnitStatus[]> {
    const units = await Promise.all(
      indexes.map(async (index) => {
        const unit = await this.#o.runtime.start(await unitSpec(template, index));
        started.push(unit);
        return unit;
      }),
    );
    const failures = (
      await Promise.all(units.map((unit) => this.#waitHealthy(unit, healthcheck, report.signal)))
    ).filter((failure) => failure !== undefined);
    if (failures.length > 0) {
      if (report.signal.aborted) throw report.signal.reason;
      throw new RolloutFailure(failures.join('; '));
    }
    const check = await healthcheck;
    report.log(
      `${template.processType}: ${units.length} unit(s) healthy` +
        (check ? ` (GET ${check.path})` : ' (TCP connect)'),
    );
    return units;
  }

  /** Undefined when the unit is healthy, else why not, with its last output lines. */
  async #waitHealthy(
    unit: UnitStatus,
    healthcheckRead: Promise<Healthcheck | undefined>,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const name = `${unit.processType}.${unit.index}`;
    const deadline = performance.now() + this.#o.startupTimeoutMs;
    let lookedAt = 0;
    let missed = 0;
    // First the port: a unit may take a while to boot, so this waits for as long as the unit
    // lives, up to the startup timeout. Then the health path, with berth.json's patience.
    for (;;) {
      if (signal.aborted) return `${name}: aborted`;
      const connected = await checkHealth({
        host: unit.address.host,
        port: unit.address.port,
        timeoutMs: 1000,
        attempts: 1,
        intervalMs: 0,
        signal,
      });
      if (connected.ok) break;
      // Whether the unit still lives is asked of the runtime less often than the port is
      // tried: on a container engine a list costs more than the connect.
      if (performance.now() - lookedAt < UNIT_LOOK_MS && performance.now() < deadline) {
        await sleep(CONNECT_RETRY_MS);
        continue;
      }
      lookedAt = performance.now();
      const [now] = (await this.#o.runtime.list({ app: unit.app })).filter((u) => u.id === unit.id);
      // A unit missing from one listing is looked for again: an engine under load may leave a
      // container it is still starting out of a listing.
      missed = now ? 0 : missed + 1;
      if (!now && missed < MISSES_BEFORE_GONE && performance.now() < deadline) continue;
      if (!now || !SERVING.has(now.state) || now.restarts > 0) {
        const exit = now?.lastExit
          ? ` (exit code ${now.lastExit.code ?? '-'}${now.lastExit.signal ? `, ${now.lastExit.signal}` : ''})`
          : '';
        return `${name} exited before it listened on PORT ${unit.address.port}${exit}${await this.#lastLines(unit)}`;
      }
      if (performance.now() > deadline) {
        return `${name} did not listen on PORT ${unit.address.port} within ${this.#o.startupTimeoutMs / 1000} s${await this.#lastLines(unit)}`;
      }
      await sleep(CONNECT_RETRY_MS);
    }
    const healthcheck = await healthcheckRead;
    if (!healthcheck) return undefined;
    const result = await checkHealth({
      host: unit.address.host,
      port: unit.address.port,
      path: healthcheck.path,
      timeoutMs: healthcheck.timeoutSeconds * 1000,
      attempts: healthcheck.attempts,
      intervalMs: 500,
      signal,
    });
    if (result.ok) return undefined;
    return `${name} failed its health check after ${result.attempts} attempt(s): ${result.reason}${await this.#lastLines(unit)}`;
  }

  async #lastLines(unit: UnitStatus): Promise<string> {
    try {
      const lines = (await this.#o.runtime.readLogs({ app: unit.app, tail: 200 }))
        .filter((line) => line.unitId === unit.id && line.stream !== 'system')
        .slice(-5)
        .map((line) => line.text);
      return lines.length > 0 ? `; last output: ${lines.join(' | ')}` : '';
    } catch {
      return '';
    }
  }

  /** Takes units out of traffic (already done by the caller's route change), drains, stops. */
  async #retire(units: readonly UnitStatus[], log: (line: string) => void): Promise<void> {
    if (units.length === 0) return;
    const addresses = units.filter((u) => u.processType === WEB).map(addressOf);
    const drained = await this.#o.routerSync
      .waitDrained(addresses, this.#o.drainTimeoutMs)
      .catch(() => false);
    if (!drained) log(`some requests were still in flight after ${this.#o.drainTimeoutMs} ms`);
    await Promise.all(
      units.map((u) => this.#o.runtime.stop(u.id, { graceMs: this.#o.unitStopGraceMs })),
    );
  }

  async #stopQuietly(units: readonly UnitStatus[]): Promise<void> {
    await Promise.all(
      units.map((u) =>
        this.#o.runtime
          .stop(u.id, { graceMs: FAILED_ROLLOUT_STOP_GRACE_MS })
          .catch((error: unknown) => {
            this.#logger.warn(
              { err: error, unit: u.id },
              'could not stop a unit of a failed rollout',
            );
          }),
      ),
    );
  }

  /** The release's health check (berth.json); never rejects: an unreadable one is none. */
  async #healthcheckOf(slugDir: string): Promise<Healthcheck | undefined> {
    return healthcheckOf(await this.#projectOf(slugDir));
  }

  /** What the release's build declares (berth.json, app.json); undefined when unreadable. */
  async #projectOf(slugDir: string): Promise<Project | undefined> {
    try {
      return await readProject(slugDir);
    } catch {
      return undefined;
    }
  }

  /**
   * Sizes the types app.json sizes that the app never scaled or sized (the first deploy, a
   * new type): FormationService.declareSizes. Says whether it sized any.
   */
  async #applyDeclaredSizes(
    app: RunnerApp,
    release: Release,
    project: Project | undefined,
    report: RolloutReport,
  ): Promise<boolean> {
    if (!project || Object.keys(project.sizes).length === 0) return false;
    const sized = await this.#o.formation.declareSizes(app.id, release, project.sizes);
    for (const type of sized) {
      const bytes = project.sizes[type] ?? 0;
      report.log(`${type}: ${formatMemory(bytes)} of memory per unit, the size app.json gives`);
    }
    return sized.length > 0;
  }

  /** The per-type templates of a release: its slug, config and formation. */
  async #templates(
    app: RunnerApp,
    release: Release,
  ): Promise<{ slugDir: string; of(type: string): ProcessTemplate }> {
    if (release.artifactId === null) {
      throw new RolloutFailure(`release v${release.version} has no build to run`);
    }
    const slugDir = this.#o.slugs.path(app.id, release.artifactId);
    if (!(await this.#o.slugs.isBuilt(app.id, release.artifactId))) {
      throw new RolloutFailure(
        `the build of release v${release.version} is not on this machine; deploy the app again`,
      );
    }
    const config = await this.#o.releases.configOf(release);
    const perType = await this.#o.processConfigs.get(app.id);
    const formation = await this.#o.formation.get(app.id, release);
    return {
      slugDir,
      of: (type) => ({
        appName: app.name,
        account: { appId: app.id, uid: app.uid },
        release,
        processType: type,
        slugDir,
        config: { ...config, ...(perType[type] ?? {}) },
        formation: formation[type] ?? { count: 1, memory: null, memoryBytes: null, cpu: null },
        artifacts: this.#o.artifacts,
      }),
    };
  }
}

/** A one-off as a caller asks for it: a shell line or an argument vector, and its time limit. */
export interface OneOffRequest {
  readonly command: string | readonly string[];
  readonly timeoutMs: number;
}

/** What a one-off of a release runs from, with, and as. */
export interface OneOffEnvironment {
  readonly artifact: UnitArtifact;
  readonly env: Readonly<Record<string, string>>;
  readonly account: AppAccount;
  readonly limits: UnitLimits;
}

/**
 * The units the runtime refuses are refused the same way on every try (a config key it sets
 * itself, stored before such keys were refused at the door; a spec it cannot run): a failed
 * rollout of the release, not an error of the moment.
 */
function refusalOf(error: unknown, release: Release): RolloutFailure | undefined {
  if (!(error instanceof BerthError) || error.kind !== 'input') return undefined;
  const advice =
    error.code === ErrorCodes.UNIT_SPEC_INVALID
      ? '; change the config and the release is rolled out again'
      : '';
  return new RolloutFailure(
    `the runtime refuses the units of v${release.version}: ${error.message}${advice}`,
  );
}

/** How long a recorded failure's reason may be: it is shown by `berth info` and `berth ps`. */
const MAX_FAILURE_CHARS = 2000;

/** The reason a failed rollout is recorded with. */
function failureText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_FAILURE_CHARS ? `${text.slice(0, MAX_FAILURE_CHARS)}…` : text;
}

/** A project's health check with its defaults filled in. */
function healthcheckOf(project: Project | undefined): Healthcheck | undefined {
  return project?.healthcheck ? { ...HEALTHCHECK_DEFAULTS, ...project.healthcheck } : undefined;
}

/** Whether a unit runs with the formation's limits (always, where the runtime has none). */
function sizedAs(unit: UnitStatus, formation: FormationEntry): boolean {
  if (unit.limits === undefined) return true;
  return (
    (unit.limits.memoryBytes ?? null) === formation.memoryBytes &&
    (unit.limits.cpus ?? null) === formation.cpu
  );
}

function upstreamOf(unit: UnitStatus): { host: string; port: number; unitId: string } {
  return { host: unit.address.host, port: unit.address.port, unitId: unit.id };
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
