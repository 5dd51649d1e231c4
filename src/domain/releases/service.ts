import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import type { SecretBox } from '../../secrets/index.js';
import {
  isUniqueViolation,
  TransactionRetriesExhaustedError,
  type Store,
} from '../../store/index.js';
import type { Release, ReleaseInput, ReleaseSummary } from './model.js';
import { describeProcesses } from './process-command.js';
import {
  byCodeUnit,
  validateReleaseInput,
  validateVersion,
  type ReleaseContent,
  type ValidRelease,
} from './rules.js';
import { releasesState } from './state.js';

/** Which of an app's releases to read. */
export interface ReleaseQuery {
  /** Only this version. */
  readonly version?: number;
  readonly limit?: number;
}

/** The reads both outside and inside a transaction. */
export interface ReleasesReads {
  /**
   * The app's releases matching `query`, newest first, or undefined when the app does not
   * exist.
   */
  releases(appId: string, query?: ReleaseQuery): Promise<Release[] | undefined>;
}

/** The reads and writes of one transaction (see ReleasesState.transact). */
export interface ReleasesTransaction extends ReleasesReads {
  artifactExists(artifactId: string): Promise<boolean>;
  /** Inserts a release; a version the app already has fails with a unique violation. */
  insert(release: Release): Promise<void>;
}

/** What the releases service needs from the store. Nothing updates or deletes a release. */
export interface ReleasesState extends ReleasesReads {
  /** Runs `work` in one transaction; `work` may run more than once. */
  transact<T>(work: (tx: ReleasesTransaction) => Promise<T>): Promise<T>;
  /** The change-stream namespace of releases, keyed by app id. */
  readonly changesNamespace: string;
}

/**
 * Where a release's variables come from: the app's config vars, and what its add-ons give it
 * (`DATABASE_URL`); the snapshot is sealed into the release.
 */
export interface ReleaseEnvironment {
  snapshot(appId: string): Promise<Record<string, string>>;
}

export interface ReleasesServiceOptions {
  readonly store: Store;
  readonly secrets: SecretBox;
  /** Where each release's config snapshot comes from. */
  readonly config: ReleaseEnvironment;
  readonly clock?: () => Date;
}

/** Decides, in the transaction and given the app's latest release, what the next one holds. */
type ReleasePlan<T extends ValidRelease | undefined> = (
  tx: ReleasesTransaction,
  latest: Release | undefined,
) => Promise<T>;

/**
 * Each failed attempt means another release of the app was made first, so N attempts serve
 * N concurrent creates for one app: far more than a deploy racing a config change.
 */
const MAX_APPEND_ATTEMPTS = 10;

/** Another release was made between reading the latest version and the transaction. */
const OVERTAKEN = Symbol('overtaken');

/** Binds a snapshot to its app and version: copied to another release, it does not open. */
function associatedData(appId: string, version: number): string {
  return `release:${appId}:${version}`;
}

function appNotFound(appId: string): NotFoundError {
  return new NotFoundError(`no app has the id '${appId}'`, ErrorCodes.APP_NOT_FOUND);
}

function releaseNotFound(appId: string, version: number): NotFoundError {
  return new NotFoundError(`app '${appId}' has no release v${version}`, ErrorCodes.NOT_FOUND);
}

function copyOf(release: Release): ReleaseContent {
  return {
    artifactId: release.artifactId,
    stack: release.stack,
    processes: release.processes,
    formation: release.formation,
  };
}

/**
 * An app's numbered, immutable releases: the artifact, processes, formation and a sealed
 * snapshot of the config it runs with. Every change makes a new release; a rollback too.
 * Callers pass app ids: the API resolves names and checks access first.
 */
export class ReleasesService {
  readonly #state: ReleasesState;
  readonly #secrets: SecretBox;
  readonly #config: ReleaseEnvironment;
  readonly #clock: () => Date;

  constructor(options: ReleasesServiceOptions) {
    this.#state = releasesState(options.store);
    this.#secrets = options.secrets;
    this.#config = options.config;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to any app's releases: a deploy, a config change or a rollback made one. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to the releases of the app `appId`. */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  /**
   * Makes the app's next release from `input` and the app's current config. InputError for a
   * malformed input or an artifact the store does not hold.
   */
  async create(input: ReleaseInput): Promise<Release> {
    const release = validateReleaseInput(input);
    return this.#append(input.appId, async (tx) => {
      if (release.artifactId !== null && !(await tx.artifactExists(release.artifactId))) {
        throw new InputError(`no artifact has the id '${release.artifactId}'`);
      }
      return release;
    });
  }

  /**
   * After the app's config changed: a release like the one that serves (`servingVersion`,
   * else the latest) with the new config, or undefined when the app has no release yet (its
   * first deploy will take the config). Basing it on the serving release matters after a
   * failed rollout: the newest release is then one that never served.
   */
  async onConfigChanged(appId: string, servingVersion?: number): Promise<Release | undefined> {
    return this.#append(appId, async (tx, latest) => {
      let base = latest;
      if (servingVersion !== undefined && servingVersion !== latest?.version) {
        [base] = (await tx.releases(appId, { version: servingVersion })) ?? [];
      }
      return base === undefined
        ? undefined
        : { ...copyOf(base), description: 'Set config vars', deploymentId: null };
    });
  }

  /**
   * A new release running what release `version` ran, with the app's current config (config
   * changes are not rolled back). InputError for a version that is not a positive integer or
   * names a release without an artifact; NotFoundError (NOT_FOUND) for one the app never had.
   */
  async rollback(appId: string, version: number): Promise<Release> {
    validateVersion(version);
    return this.#append(appId, async (tx) => {
      const [target] = (await tx.releases(appId, { version })) ?? [];
      if (!target) throw releaseNotFound(appId, version);
      if (target.artifactId === null) {
        throw new InputError(
          `release v${version} has no artifact to run; roll back to a release made by a deploy`,
        );
      }
      return { ...copyOf(target), description: `Rollback to v${version}`, deploymentId: null };
    });
  }

  /** The app's releases, newest first, with the names of their config vars only. */
  async list(appId: string): Promise<ReleaseSummary[]> {
    const releases = await this.#state.releases(appId);
    if (!releases) throw appNotFound(appId);
    return Promise.all(
      releases.map(async (release) => ({
        version: release.version,
        description: release.description,
        artifactId: release.artifactId,
        stack: release.stack,
        processes: describeProcesses(release.processes),
        formation: release.formation,
        configKeys: Object.keys(await this.configOf(release)).sort(byCodeUnit),
        deploymentId: release.deploymentId,
        createdAt: release.createdAt,
      })),
    );
  }

  /** Release `version` of the app; NotFoundError (NOT_FOUND) when it has none such. */
  async get(appId: string, version: number): Promise<Release> {
    validateVersion(version);
    const releases = await this.#state.releases(appId, { version });
    if (!releases) throw appNotFound(appId);
    const [release] = releases;
    if (!release) throw releaseNotFound(appId, version);
    return release;
  }

  /** The app's newest release, or undefined when it has none. */
  async latest(appId: string): Promise<Release | undefined> {
    const releases = await this.#state.releases(appId, { limit: 1 });
    if (!releases) throw appNotFound(appId);
    return releases[0];
  }

  /** The config the release runs with, decrypted (for the runtime; never for a listing). */
  async configOf(
    release: Pick<Release, 'appId' | 'version' | 'configEnvelope'>,
  ): Promise<Record<string, string>> {
    const plaintext = this.#secrets.open(
      release.configEnvelope,
      associatedData(release.appId, release.version),
    );
    return Promise.resolve(JSON.parse(plaintext) as Record<string, string>);
  }

  /**
   * Inserts the app's next release as `plan` decides, retrying when another release got in
   * first. The config can only be read outside the transaction (on SQLite the transaction
   * holds the store's one connection), so the latest version is read before the snapshot and
   * must still be the latest in the transaction: a release never carries an older snapshot
   * than the release before it, and the release made after a config change holds that change.
   */
  async #append(appId: string, plan: ReleasePlan<ValidRelease>): Promise<Release>;
  async #append(
    appId: string,
    plan: ReleasePlan<ValidRelease | undefined>,
  ): Promise<Release | undefined>;
  async #append(
    appId: string,
    plan: ReleasePlan<ValidRelease | undefined>,
  ): Promise<Release | undefined> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const seen = await this.latest(appId);
      const config = JSON.stringify(await this.#config.snapshot(appId));
      let conflict: unknown;
      try {
        const outcome = await this.#state.transact(async (tx) => {
          const releases = await tx.releases(appId, { limit: 1 });
          if (!releases) throw appNotFound(appId);
          const [latest] = releases;
          if (latest?.version !== seen?.version) return OVERTAKEN;
          const next = await plan(tx, latest);
          if (next === undefined) return undefined;
          // The version is known only now, and the snapshot is sealed for it.
          const version = (latest?.version ?? 0) + 1;
          const release: Release = {
            id: randomUUID(),
            appId,
            version,
            artifactId: next.artifactId,
            stack: next.stack,
            processes: next.processes,
            formation: next.formation,
            configEnvelope: this.#secrets.seal(config, associatedData(appId, version)),
            description: next.description,
            deploymentId: next.deploymentId,
            createdAt: this.#clock().toISOString(),
          };
          // Two writers that read the same latest version both try this version; the
          // UNIQUE (app_id, version) constraint lets one through.
          await tx.insert(release);
          return release;
        });
        if (outcome !== OVERTAKEN) return outcome;
        conflict = new Error(`another release of app '${appId}' was made first`);
      } catch (error) {
        // The transaction runner retries busy and serialization errors, never constraints.
        if (!isUniqueViolation(error)) throw error;
        conflict = error;
      }
      if (attempt >= MAX_APPEND_ATTEMPTS) {
        throw new TransactionRetriesExhaustedError(attempt, performance.now() - started, conflict);
      }
      // Jittered, so writers that collided do not collide again in step.
      await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
  }
}
