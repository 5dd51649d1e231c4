import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { ErrorCodes, InputError } from '../../errors/index.js';

/** An app in maintenance mode. */
export interface Maintenance {
  readonly appId: string;
  readonly appName: string;
  /** Shown on the 503 page (HTML-escaped by the router); null for the default text. */
  readonly message: string | null;
  readonly startedAt: string;
}

/** What the maintenance service needs from the store. */
export interface MaintenanceState {
  /** Puts the app in maintenance, or changes its message; keeps the first start time. */
  put(row: { appId: string; message: string | null; startedAt: string }): Promise<void>;
  /** Takes the app out; false when it was not in maintenance. */
  remove(appId: string): Promise<boolean>;
  get(appId: string): Promise<Maintenance | undefined>;
  /** Every app in maintenance, with its name. */
  list(): Promise<Maintenance[]>;
  /** The namespace of the maintenance table, keyed by app id. It goes with its app. */
  readonly changesNamespace: string;
}

export interface MaintenanceServiceOptions {
  readonly state: MaintenanceState;
  readonly clock?: () => Date;
}

/** The `Retry-After` of the maintenance page: a visitor's browser or a crawler comes back then. */
export const MAINTENANCE_RETRY_AFTER_SECONDS = 120;

/** A maintenance message's length. */
export const MAX_MAINTENANCE_MESSAGE = 1000;

/**
 * Maintenance mode: while on, the router answers every host of the app with a 503 page and
 * `Retry-After` instead of passing requests on. It is desired state in the store and is carried
 * in the route table, so a restarted router or controller keeps it.
 */
export class MaintenanceService {
  readonly #state: MaintenanceState;
  readonly #clock: () => Date;

  constructor(options: MaintenanceServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to any app's maintenance mode: what router sync pushes to the router. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to one app's maintenance mode. */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  /** Turns maintenance on (or changes its message). InputError for a message out of bounds. */
  async on(app: { id: string; name: string }, message?: string | null): Promise<Maintenance> {
    const text = message === undefined || message === null ? null : message.trim();
    if (
      text !== null &&
      (text.length > MAX_MAINTENANCE_MESSAGE || /[\p{Cc}]/u.test(text.replace(/\n/g, '')))
    ) {
      throw new InputError(
        `a maintenance message is at most ${MAX_MAINTENANCE_MESSAGE} printable characters`,
        ErrorCodes.INVALID_INPUT,
      );
    }
    await this.#state.put({
      appId: app.id,
      message: text === '' ? null : text,
      startedAt: this.#clock().toISOString(),
    });
    const now = await this.#state.get(app.id);
    if (!now) throw new Error(`maintenance of ${app.name} was not recorded`);
    return now;
  }

  /** Turns maintenance off; says whether it was on. */
  off(app: { id: string }): Promise<boolean> {
    return this.#state.remove(app.id);
  }

  get(appId: string): Promise<Maintenance | undefined> {
    return this.#state.get(appId);
  }

  /** Every app in maintenance (router sync). */
  list(): Promise<Maintenance[]> {
    return this.#state.list();
  }
}
