import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import { checkCount, cpuMillis, formatMemory, parseMemory } from './rules.js';

/** One process type's scale and size, as the API shows it and the runtime reads it. */
export interface FormationEntry {
  readonly count: number;
  /** Memory limit per unit, e.g. "256M", or null for the runtime's default. */
  readonly memory: string | null;
  readonly memoryBytes: number | null;
  /** CPUs per unit, e.g. 0.5, or null for the runtime's default. */
  readonly cpu: number | null;
}

/** PATCH /formation: `{"web": 3}` or `{"web": {"count": 3, "memory": "256M", "cpu": 0.5}}`. */
export type FormationPatch = Readonly<
  Record<
    string,
    | number
    | {
        readonly count?: number;
        readonly memory?: string | number | null;
        readonly cpu?: number | null;
      }
  >
>;

/** A stored row of the formation. */
export interface StoredFormation {
  readonly processType: string;
  readonly count: number;
  readonly memoryBytes: number | null;
  readonly cpuMillis: number | null;
}

/** What the formation service needs from the store. */
export interface FormationState {
  /** The app's rows, or undefined when the app does not exist. */
  list(appId: string): Promise<StoredFormation[] | undefined>;
  upsert(appId: string, rows: readonly StoredFormation[], now: string): Promise<void>;
  /** The change-stream namespace of formations, keyed by app id. */
  readonly changesNamespace: string;
}

/** The process types of the app's newest release and the counts it declares (berth.json). */
export interface ReleaseProcesses {
  latestProcesses(appId: string): Promise<
    | {
        readonly processes: Readonly<Record<string, unknown>>;
        readonly formation: Readonly<Record<string, number>>;
      }
    | undefined
  >;
}

export interface FormationServiceOptions {
  readonly state: FormationState;
  readonly releases: ReleaseProcesses;
  readonly clock?: () => Date;
}

function entryOf(row: StoredFormation): FormationEntry {
  return {
    count: row.count,
    memory: row.memoryBytes === null ? null : formatMemory(row.memoryBytes),
    memoryBytes: row.memoryBytes,
    cpu: row.cpuMillis === null ? null : row.cpuMillis / 1000,
  };
}

/**
 * An app's formation. Scaling is not a release (as on Heroku): it outlives deploys. A process
 * type the app has never scaled runs the count its release declares, else one unit.
 */
export class FormationService {
  readonly #state: FormationState;
  readonly #releases: ReleaseProcesses;
  readonly #clock: () => Date;

  constructor(options: FormationServiceOptions) {
    this.#state = options.state;
    this.#releases = options.releases;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to any app's formation: a scale or a resize. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to the formation of the app `appId`. */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  /**
   * The formation of every process type of the app's newest release, or of `processes` when
   * given (a rollout asks for the release it rolls). Empty when the app has no release.
   */
  async get(
    appId: string,
    release?: {
      readonly processes: Readonly<Record<string, unknown>>;
      readonly formation: Readonly<Record<string, number>>;
    },
  ): Promise<Record<string, FormationEntry>> {
    const rows = await this.#state.list(appId);
    if (!rows) throw new NotFoundError(`no app has the id '${appId}'`, ErrorCodes.APP_NOT_FOUND);
    const source = release ?? (await this.#releases.latestProcesses(appId));
    if (!source) return {};
    const byType = new Map(rows.map((row) => [row.processType, row]));
    const formation: Record<string, FormationEntry> = {};
    for (const type of Object.keys(source.processes)) {
      const row = byType.get(type);
      formation[type] = row
        ? entryOf(row)
        : { count: source.formation[type] ?? 1, memory: null, memoryBytes: null, cpu: null };
    }
    return formation;
  }

  /**
   * Sizes the process types of `release` that the app has never scaled or sized (app.json's
   * `size`, as memory bytes), as a resize would: each gets a row with the count the release
   * declares, so from then on the type keeps its formation like a scaled one (Heroku applies
   * app.json's formation once, too). Types with a row are left alone. Returns the types sized.
   */
  async declareSizes(
    appId: string,
    release: {
      readonly processes: Readonly<Record<string, unknown>>;
      readonly formation: Readonly<Record<string, number>>;
    },
    sizes: Readonly<Record<string, number>>,
  ): Promise<string[]> {
    const rows = await this.#state.list(appId);
    if (!rows) throw new NotFoundError(`no app has the id '${appId}'`, ErrorCodes.APP_NOT_FOUND);
    const known = new Set(rows.map((row) => row.processType));
    const added: StoredFormation[] = [];
    for (const [type, bytes] of Object.entries(sizes)) {
      if (known.has(type) || !Object.hasOwn(release.processes, type)) continue;
      added.push({
        processType: type,
        count: release.formation[type] ?? 1,
        memoryBytes: parseMemory(bytes, type),
        cpuMillis: null,
      });
    }
    if (added.length > 0) await this.#state.upsert(appId, added, this.#clock().toISOString());
    return added.map((row) => row.processType);
  }

  /**
   * Scales or sizes process types of the app's newest release. InputError (FORMATION_INVALID)
   * for an unknown type or a bad value; ConflictError (NOT_DEPLOYED) before the first release.
   * Returns the whole formation after the change.
   */
  async patch(appId: string, patch: FormationPatch): Promise<Record<string, FormationEntry>> {
    const current = await this.get(appId);
    const types = Object.keys(current);
    if (types.length === 0) {
      throw new ConflictError(
        'the app has no release yet: deploy it before scaling it',
        ErrorCodes.NOT_DEPLOYED,
      );
    }
    const entries = Object.entries(patch);
    if (entries.length === 0) {
      throw new InputError('name at least one process type to scale', ErrorCodes.FORMATION_INVALID);
    }
    const rows: StoredFormation[] = [];
    for (const [type, change] of entries) {
      const now = current[type];
      if (!now) {
        throw new InputError(
          `the app has no process type '${type}' (its newest release runs ${types.join(', ')})`,
          ErrorCodes.FORMATION_INVALID,
        );
      }
      const spec = typeof change === 'number' ? { count: change } : change;
      rows.push({
        processType: type,
        count: spec.count === undefined ? now.count : checkCount(spec.count, type),
        memoryBytes:
          spec.memory === undefined
            ? now.memoryBytes
            : spec.memory === null
              ? null
              : parseMemory(spec.memory, type),
        cpuMillis:
          spec.cpu === undefined
            ? now.cpu === null
              ? null
              : Math.round(now.cpu * 1000)
            : spec.cpu === null
              ? null
              : cpuMillis(spec.cpu, type),
      });
    }
    await this.#state.upsert(appId, rows, this.#clock().toISOString());
    return this.get(appId);
  }
}
