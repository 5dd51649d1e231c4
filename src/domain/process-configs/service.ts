import { ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import type { SecretBox } from '../../secrets/index.js';
import type { Store } from '../../store/index.js';
import type { KeyPolicy } from '../config/index.js';
import {
  byCodeUnit,
  decodeVars,
  encodeVars,
  ProcessConfigLimits,
  validateProcessConfigs,
  type ProcessConfigs,
} from './rules.js';
import { processConfigState } from './state.js';

/** One process type's config as stored: its sealed JSON map. */
export interface StoredProcessConfig {
  readonly processType: string;
  readonly envelope: string;
}

/** The reads and writes of one transaction (see ProcessConfigState.transact). */
export interface ProcessConfigTransaction {
  /** The app's process configs, or undefined when the app does not exist. */
  list(appId: string): Promise<StoredProcessConfig[] | undefined>;
  /** Inserts the rows, or replaces the envelope (and updated_at) of those that exist. */
  upsert(appId: string, configs: readonly StoredProcessConfig[], now: string): Promise<void>;
  remove(appId: string, processTypes: readonly string[]): Promise<void>;
}

/** What the process-config service needs from the store. */
export interface ProcessConfigState {
  /** The app's process configs, or undefined when the app does not exist. */
  list(appId: string): Promise<StoredProcessConfig[] | undefined>;
  /**
   * Runs `work` in one serializable transaction, so the comparisons and the type count it
   * makes still hold when it commits. `work` may run more than once.
   */
  transact<T>(work: (tx: ProcessConfigTransaction) => Promise<T>): Promise<T>;
}

export interface ProcessConfigServiceOptions {
  readonly store: Store;
  readonly secrets: SecretBox;
  readonly clock?: () => Date;
}

/** Binds an envelope to its app and process type: copied elsewhere, it does not open. */
function associatedData(appId: string, processType: string): string {
  return `process-config:${appId}:${processType}`;
}

function appNotFound(appId: string): NotFoundError {
  return new NotFoundError(`no app has the id '${appId}'`, ErrorCodes.APP_NOT_FOUND);
}

function sameVars(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
  );
}

/**
 * Config per process type (GET/PUT /deployments/configs/{app}), encrypted at rest like config
 * vars. Callers pass app ids: the API resolves names and checks access first. No message or
 * log line holds a value.
 */
export class ProcessConfigService {
  readonly #state: ProcessConfigState;
  readonly #secrets: SecretBox;
  readonly #clock: () => Date;

  constructor(options: ProcessConfigServiceOptions) {
    this.#state = processConfigState(options.store);
    this.#secrets = options.secrets;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Every process type's vars decrypted, types and keys sorted; `{}` when none is set. */
  async get(appId: string): Promise<Record<string, Record<string, string>>> {
    const stored = await this.#state.list(appId);
    if (!stored) throw appNotFound(appId);
    // fromEntries defines own properties, so a key like `__proto__` stays an ordinary key.
    return Object.fromEntries(
      [...stored]
        .sort((a, b) => byCodeUnit(a.processType, b.processType))
        .map((row) => [row.processType, this.#open(appId, row)]),
    );
  }

  /**
   * Replaces the map of each process type given (an empty map deletes the type's config);
   * types not given keep theirs. Checks everything first (InputError, nothing written), then
   * writes in one transaction. Returns, per type given, whether its config changed; a map
   * equal to the stored one writes nothing, so no change event follows.
   */
  async put(
    appId: string,
    configs: ProcessConfigs,
    policy: KeyPolicy = { allowRuntimeKeys: false },
  ): Promise<Record<string, boolean>> {
    const valid = validateProcessConfigs(configs, policy);
    // Sealed before the transaction: it is pure, and the transaction stays short. A retried
    // transaction reuses these envelopes.
    const sealed = valid.map((config) => ({
      processType: config.processType,
      vars: Object.fromEntries(config.vars),
      envelope:
        config.vars.length === 0
          ? undefined
          : this.#secrets.seal(encodeVars(config.vars), associatedData(appId, config.processType)),
    }));
    const now = this.#clock().toISOString();

    return this.#state.transact(async (tx) => {
      const stored = await tx.list(appId);
      if (!stored) throw appNotFound(appId);
      const current = new Map(stored.map((row) => [row.processType, row]));

      const changed = sealed.filter((config) => {
        const row = current.get(config.processType);
        if (config.envelope === undefined) return row !== undefined;
        // An envelope never repeats (fresh data key and IVs), so sameness needs the plaintext.
        return row === undefined || !sameVars(this.#open(appId, row), config.vars);
      });
      const written = changed.flatMap((config) =>
        config.envelope === undefined
          ? []
          : [{ processType: config.processType, envelope: config.envelope }],
      );
      const removed = changed.flatMap((config) =>
        config.envelope === undefined ? [config.processType] : [],
      );

      const added = written.filter((config) => !current.has(config.processType)).length;
      const total = current.size + added - removed.length;
      // A PUT that does not grow the count passes, so an app over a lowered limit can shrink.
      if (total > ProcessConfigLimits.maxProcessTypes && total > current.size) {
        throw new InputError(
          `the app would have config for ${total} process types; at most ` +
            `${ProcessConfigLimits.maxProcessTypes} are allowed`,
        );
      }

      if (written.length > 0) await tx.upsert(appId, written, now);
      if (removed.length > 0) await tx.remove(appId, removed);
      const changedTypes = new Set(changed.map((config) => config.processType));
      return Object.fromEntries(
        sealed.map((config) => [config.processType, changedTypes.has(config.processType)]),
      );
    });
  }

  #open(appId: string, row: StoredProcessConfig): Record<string, string> {
    return decodeVars(this.#secrets.open(row.envelope, associatedData(appId, row.processType)));
  }
}
