import { ConflictError, ErrorCodes, InputError } from '../errors/index.js';
import type {
  AppAccount,
  Driver,
  LogLine,
  LogQuery,
  OneOffResult,
  OneOffSpec,
  UnitSpec,
  UnitStatus,
} from './driver.js';
import { validateOneOffSpec, validateUnitSpec } from './spec-rules.js';

type Phase = 'new' | 'initializing' | 'ready' | 'destroying' | 'destroyed';

/**
 * Wraps any driver so that callers cannot misuse it (Kysely's RuntimeDriver): init runs once
 * however many callers ask at the same time, a failed init may be retried, nothing runs before
 * init or after destroy, and every spec is checked before the driver sees it. It also makes
 * starts and stops single-flight: a second start of a unit id while the first runs is refused
 * (UNIT_EXISTS), a second stop of a unit waits for the first, and destroy waits for stops in
 * flight. Drivers can then trust their input and skip this bookkeeping.
 */
export class RuntimeDriver implements Driver {
  readonly #driver: Driver;
  #phase: Phase = 'new';
  #initializing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  /** Stops in flight, by unit id: a second stop() of a unit shares the first. */
  readonly #stopping = new Map<string, Promise<void>>();
  /** Unit ids being started: two start() calls of one id cannot both spawn it. */
  readonly #starting = new Set<string>();

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  get kind(): string {
    return this.#driver.kind;
  }

  /** Initialises the driver once; concurrent calls share the one attempt. */
  init(): Promise<void> {
    if (this.#phase === 'destroying' || this.#phase === 'destroyed') {
      return Promise.reject(new Error(`the ${this.kind} runtime driver has been destroyed`));
    }
    if (this.#phase === 'ready') return Promise.resolve();
    this.#initializing ??= (async () => {
      this.#phase = 'initializing';
      try {
        await this.#driver.init();
        // destroy() may have been called while init ran; it waits for us and then wins.
        if (this.#phase === 'initializing') this.#phase = 'ready';
      } catch (error) {
        if (this.#phase === 'initializing') this.#phase = 'new';
        this.#initializing = undefined;
        throw error;
      }
    })();
    return this.#initializing;
  }

  // The calls below are async so that misuse and invalid specs reject, as the driver would.

  async start(spec: UnitSpec): Promise<UnitStatus> {
    this.#assertReady();
    validateUnitSpec(spec);
    if (this.#starting.has(spec.id)) {
      throw new ConflictError(`unit ${spec.id} exists; stop it first`, ErrorCodes.UNIT_EXISTS);
    }
    this.#starting.add(spec.id);
    try {
      return await this.#driver.start(spec);
    } finally {
      this.#starting.delete(spec.id);
    }
  }

  async stop(unitId: string, options: { readonly graceMs: number }): Promise<void> {
    this.#assertReady();
    let stopping = this.#stopping.get(unitId);
    if (!stopping) {
      stopping = this.#driver
        .stop(unitId, { graceMs: Math.max(0, options.graceMs) })
        .finally(() => this.#stopping.delete(unitId));
      this.#stopping.set(unitId, stopping);
    }
    return await stopping;
  }

  async list(filter?: { readonly app?: string }): Promise<UnitStatus[]> {
    this.#assertReady();
    return await this.#driver.list(filter);
  }

  async readLogs(query: LogQuery): Promise<LogLine[]> {
    this.#assertReady();
    return await this.#driver.readLogs(query);
  }

  async followLogs(
    query: LogQuery,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.#assertReady();
    return await this.#driver.followLogs(query, onLine, signal);
  }

  async run(
    spec: OneOffSpec,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<OneOffResult> {
    this.#assertReady();
    validateOneOffSpec(spec);
    return await this.#driver.run(spec, onLine, signal);
  }

  async removeApp(app: string, account?: AppAccount): Promise<void> {
    this.#assertReady();
    if (!/^[a-z0-9][a-z0-9-]{0,99}$/.test(app)) {
      throw new InputError(
        `app ${JSON.stringify(app)} is not an app name`,
        ErrorCodes.UNIT_SPEC_INVALID,
      );
    }
    return await this.#driver.removeApp(app, account);
  }

  /** Destroys the driver once, after any init in flight; later calls share the first. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      const initializing = this.#initializing;
      const wasStarted = this.#phase !== 'new';
      this.#phase = 'destroying';
      if (initializing) await initializing.catch(() => undefined);
      await Promise.allSettled(this.#stopping.values());
      try {
        if (wasStarted) await this.#driver.destroy();
      } finally {
        this.#phase = 'destroyed';
      }
    })();
    return this.#destroying;
  }

  #assertReady(): void {
    if (this.#phase === 'ready') return;
    if (this.#phase === 'destroying' || this.#phase === 'destroyed') {
      throw new Error(`the ${this.kind} runtime driver has been destroyed`);
    }
    throw new Error(`the ${this.kind} runtime driver is not initialised: call init() first`);
  }
}
