import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import type { SecretBox } from '../../secrets/index.js';
import type { Store } from '../../store/index.js';
import { byKey, ConfigLimits, validatePatch, type ConfigPatch, type KeyPolicy } from './rules.js';
import { configState } from './state.js';

/** One config var as stored: its key and its sealed value. */
export interface StoredConfigVar {
  readonly key: string;
  readonly envelope: string;
}

/** The reads and writes of one transaction (see ConfigState.transact). */
export interface ConfigTransaction {
  /** The app's keys, or undefined when the app does not exist. */
  keys(appId: string): Promise<string[] | undefined>;
  /** The envelopes of those of `keys` the app has. */
  envelopes(appId: string, keys: readonly string[]): Promise<StoredConfigVar[]>;
  /** Inserts the vars, or replaces the envelope (and updated_at) of those that exist. */
  upsert(appId: string, vars: readonly StoredConfigVar[], now: string): Promise<void>;
  remove(appId: string, keys: readonly string[]): Promise<void>;
}

/** What the config service needs from the store. */
export interface ConfigState {
  /** The app's vars with their envelopes, or undefined when the app does not exist. */
  list(appId: string): Promise<StoredConfigVar[] | undefined>;
  /** The app's keys, or undefined when the app does not exist. */
  keys(appId: string): Promise<string[] | undefined>;
  /**
   * Runs `work` in one serializable transaction, so the checks it makes (the var count, the
   * current values) still hold when it commits. `work` may run more than once.
   */
  transact<T>(work: (tx: ConfigTransaction) => Promise<T>): Promise<T>;
  /** The change-stream namespace of config vars, keyed by app id. */
  readonly changesNamespace: string;
}

export interface ConfigServiceOptions {
  readonly store: Store;
  readonly secrets: SecretBox;
  readonly clock?: () => Date;
  /**
   * Keys something else gives the app's releases (an attached add-on's `DATABASE_URL`), each
   * with what gives it: a config var of that name is refused rather than shadowed.
   */
  readonly keysTaken?: (appId: string) => Promise<ReadonlyMap<string, string>>;
}

/** What a patch did. Keys are sorted; `changed` says whether anything was written. */
export interface ConfigPatchResult {
  /** Keys created or given a new value; a key set to the value it had is not here. */
  readonly set: string[];
  /** Keys removed; a key that was not set is not here. */
  readonly unset: string[];
  readonly changed: boolean;
}

/** Binds a value's envelope to its app and key: copied elsewhere, it does not open. */
function associatedData(appId: string, key: string): string {
  return `config:${appId}:${key}`;
}

function appNotFound(appId: string): NotFoundError {
  return new NotFoundError(`no app has the id '${appId}'`, ErrorCodes.APP_NOT_FOUND);
}

/**
 * An app's config vars, encrypted at rest. Callers pass app ids: the API resolves names and
 * checks access first. No message or log line holds a value.
 */
export class ConfigService {
  readonly #state: ConfigState;
  readonly #secrets: SecretBox;
  readonly #clock: () => Date;
  readonly #keysTaken: ConfigServiceOptions['keysTaken'];

  constructor(options: ConfigServiceOptions) {
    this.#state = configState(options.store);
    this.#secrets = options.secrets;
    this.#clock = options.clock ?? (() => new Date());
    this.#keysTaken = options.keysTaken;
  }

  /** Changes to the config vars of the app `appId` (never their values). */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  /**
   * The app's vars, keys sorted. Values are decrypted only with `reveal`; otherwise each is
   * null (for callers that may see which keys exist but not their values).
   */
  async get(appId: string, options: { reveal: boolean }): Promise<Record<string, string | null>> {
    if (!options.reveal) {
      const keys = await this.#state.keys(appId);
      if (!keys) throw appNotFound(appId);
      return Object.fromEntries(keys.sort(byKey).map((key) => [key, null]));
    }
    return this.snapshot(appId);
  }

  /** Every var decrypted, keys sorted: what a release is built from. */
  async snapshot(appId: string): Promise<Record<string, string>> {
    const vars = await this.#state.list(appId);
    if (!vars) throw appNotFound(appId);
    // fromEntries defines own properties, so a key like `__proto__` stays an ordinary key.
    return Object.fromEntries(
      [...vars]
        .sort((a, b) => byKey(a.key, b.key))
        .map((v) => [v.key, this.#secrets.open(v.envelope, associatedData(appId, v.key))]),
    );
  }

  /**
   * Sets (string) and unsets (null) keys in one transaction, after checking the whole patch
   * (InputError, nothing written). Setting a key to the value it has writes nothing, so no
   * change event follows; unsetting a key that is not set is not an error. LD_PRELOAD and the
   * other runtime keys are set only with `allowRuntimeKeys` (see refusedKeyRule).
   */
  async patch(
    appId: string,
    changes: ConfigPatch,
    policy: KeyPolicy = { allowRuntimeKeys: false },
  ): Promise<ConfigPatchResult> {
    const { sets, unsets } = validatePatch(changes, policy);
    if (this.#keysTaken && sets.length > 0) {
      const taken = await this.#keysTaken(appId);
      const clash = sets.find(([key]) => taken.has(key));
      if (clash) {
        throw new ConflictError(
          `${clash[0]} is the URL of add-on '${taken.get(clash[0]) ?? '?'}', attached to this app; detach it first, or name the var otherwise`,
          ErrorCodes.ADDON_ALIAS_TAKEN,
        );
      }
    }
    // Sealed before the transaction: it is pure, and the transaction (SQLite's write lock)
    // stays short. A retried transaction reuses these envelopes.
    const sealed = sets.map(([key, value]) => ({
      key,
      value,
      envelope: this.#secrets.seal(value, associatedData(appId, key)),
    }));
    const now = this.#clock().toISOString();

    return this.#state.transact(async (tx) => {
      const keys = await tx.keys(appId);
      if (!keys) throw appNotFound(appId);
      const existing = new Set(keys);
      const removed = unsets.filter((key) => existing.has(key));
      const added = sealed.filter((v) => !existing.has(v.key)).length;
      const count = existing.size + added - removed.length;
      // A patch that does not grow the count passes, so an app over a lowered limit can shrink.
      if (count > ConfigLimits.maxVarsPerApp && count > existing.size) {
        throw new InputError(
          `the app would have ${count} config vars; at most ${ConfigLimits.maxVarsPerApp} are allowed`,
        );
      }

      const stored = await tx.envelopes(
        appId,
        sealed.filter((v) => existing.has(v.key)).map((v) => v.key),
      );
      const current = new Map(stored.map((v) => [v.key, v.envelope]));
      // An envelope never repeats (fresh data key and IVs), so sameness needs the plaintext.
      const written = sealed.filter((v) => {
        const envelope = current.get(v.key);
        return (
          envelope === undefined ||
          this.#secrets.open(envelope, associatedData(appId, v.key)) !== v.value
        );
      });

      if (written.length > 0) {
        await tx.upsert(
          appId,
          written.map((v) => ({ key: v.key, envelope: v.envelope })),
          now,
        );
      }
      if (removed.length > 0) await tx.remove(appId, removed);
      const set = written.map((v) => v.key);
      return { set, unset: removed, changed: set.length + removed.length > 0 };
    });
  }
}
