import { randomInt, randomUUID } from 'node:crypto';
import {
  ConflictError,
  ErrorCodes,
  ForbiddenError,
  InputError,
  NotFoundError,
} from '../../errors/index.js';
import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { isUniqueViolation } from '../../store/index.js';

/** An application: a name, an owner, and (later) releases, formation and add-ons. */
export interface App {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  /**
   * The unprivileged uid (and gid) the process runtime runs the app's builds, units and
   * one-offs as: given once, never 0, never given to another app, even after this one is gone.
   */
  readonly uid: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** App names: DNS labels of at most 39 characters, so `<app>.<domain>` always works. */
export const APP_NAME_PATTERN = /^[a-z][a-z0-9-]{0,38}$/;

/**
 * App uids are drawn at random from [APP_UIDS.from, APP_UIDS.to): far above ordinary users,
 * systemd's dynamic users (61184–65519), nobody (65534) and the subordinate id ranges
 * rootless containers are given (from 100000 in blocks of 65536). Random, not counted from a
 * base, because two Berths with two stores on one machine must not give two apps one uid (the
 * chance that they do is one in a billion per pair of apps); the store never gives one twice.
 */
export const APP_UIDS = Object.freeze({ from: 1_000_000_000, to: 2_000_000_000 });

/** What the apps service needs from the store. */
export interface AppsState {
  /**
   * Inserts the app with this uid, in one transaction; a unique violation when the name or
   * the uid (ever given, to any app) is taken.
   */
  insert(app: App): Promise<void>;
  findByName(name: string): Promise<App | undefined>;
  findById(id: string): Promise<App | undefined>;
  /** Apps ordered by name; only the owner's when an owner is given. */
  list(ownerId: string | undefined): Promise<App[]>;
  delete(id: string): Promise<boolean>;
  /** The change-stream namespace of apps, keyed by app id. */
  readonly changesNamespace: string;
}

/**
 * Who may own apps: `multi` where the runtime keeps apps apart (a uid each, containers),
 * `single` where it cannot (a process runtime whose controller cannot switch users): there all
 * apps belong to one user, so that no user's app can read another's.
 */
export type Tenancy = 'multi' | 'single';

export interface AppsServiceOptions {
  readonly state: AppsState;
  readonly clock?: () => Date;
  /** Default `multi`. */
  readonly tenancy?: Tenancy;
}

/** A uid drawn that was given before (rare): the insert fails and draws again. */
const UID_ATTEMPTS = 5;

/** Creating, finding and destroying apps. Who may do so is decided by the access policy. */
export class AppsService {
  readonly #state: AppsState;
  readonly #clock: () => Date;
  readonly #tenancy: Tenancy;

  constructor(options: AppsServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
    this.#tenancy = options.tenancy ?? 'multi';
  }

  get tenancy(): Tenancy {
    return this.#tenancy;
  }

  async create(ownerId: string, name: string): Promise<App> {
    if (!APP_NAME_PATTERN.test(name)) {
      throw new InputError(
        `app name '${name.slice(0, 64)}' must start with a lowercase letter and hold only lowercase letters, digits and '-', at most 39 characters`,
        ErrorCodes.INVALID_NAME,
      );
    }
    if (this.#tenancy === 'single') await this.#requireSoleOwner(ownerId);
    const now = this.#clock().toISOString();
    const app = { id: randomUUID(), name, ownerId, createdAt: now, updatedAt: now };
    for (let attempt = 1; ; attempt++) {
      try {
        const created = { ...app, uid: randomInt(APP_UIDS.from, APP_UIDS.to) };
        await this.#state.insert(created);
        return created;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (await this.#state.findByName(name))
          throw new ConflictError(`an app named '${name}' already exists`, ErrorCodes.APP_EXISTS);
        // The name is free, so the uid was given before: draw another.
        if (attempt >= UID_ATTEMPTS) throw error;
      }
    }
  }

  async #requireSoleOwner(ownerId: string): Promise<void> {
    const others = (await this.#state.list(undefined)).filter((app) => app.ownerId !== ownerId);
    if (others.length > 0) {
      throw new ForbiddenError(
        'this server runs apps as processes of its own user, so it holds the apps of one user ' +
          'only: another user has apps here. Run berth server as root (each app then gets a ' +
          'user of its own) or with --runtime container to host several users',
        ErrorCodes.SINGLE_TENANT_RUNTIME,
      );
    }
  }

  /** The app with this name; NotFoundError when there is none. */
  async get(name: string): Promise<App> {
    const app = APP_NAME_PATTERN.test(name) ? await this.#state.findByName(name) : undefined;
    if (!app)
      throw new NotFoundError(
        `app '${name.slice(0, 64)}' does not exist`,
        ErrorCodes.APP_NOT_FOUND,
      );
    return app;
  }

  findById(id: string): Promise<App | undefined> {
    return this.#state.findById(id);
  }

  /** Changes to any app: created, destroyed. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to the app `appId` itself. */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  /** Every app, or the apps of one owner. */
  list(ownerId?: string): Promise<App[]> {
    return this.#state.list(ownerId);
  }

  /** Destroys the app; its config vars go with it (the store cascades). */
  async destroy(app: App): Promise<void> {
    if (!(await this.#state.delete(app.id))) {
      throw new NotFoundError(`app '${app.name}' does not exist`, ErrorCodes.APP_NOT_FOUND);
    }
  }
}
