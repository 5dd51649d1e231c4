import { randomUUID } from 'node:crypto';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import { isUniqueViolation } from '../../store/index.js';

/** An application: a name, an owner, and (later) releases, formation and add-ons. */
export interface App {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** App names: DNS labels of at most 39 characters, so `<app>.<domain>` always works. */
export const APP_NAME_PATTERN = /^[a-z][a-z0-9-]{0,38}$/;

/** What the apps service needs from the store. */
export interface AppsState {
  insert(app: App): Promise<void>;
  findByName(name: string): Promise<App | undefined>;
  findById(id: string): Promise<App | undefined>;
  /** Apps ordered by name; only the owner's when an owner is given. */
  list(ownerId: string | undefined): Promise<App[]>;
  delete(id: string): Promise<boolean>;
}

export interface AppsServiceOptions {
  readonly state: AppsState;
  readonly clock?: () => Date;
}

/** Creating, finding and destroying apps. Who may do so is decided by the access policy. */
export class AppsService {
  readonly #state: AppsState;
  readonly #clock: () => Date;

  constructor(options: AppsServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  async create(ownerId: string, name: string): Promise<App> {
    if (!APP_NAME_PATTERN.test(name)) {
      throw new InputError(
        `app name '${name.slice(0, 64)}' must start with a lowercase letter and hold only lowercase letters, digits and '-', at most 39 characters`,
        ErrorCodes.INVALID_NAME,
      );
    }
    const now = this.#clock().toISOString();
    const app: App = { id: randomUUID(), name, ownerId, createdAt: now, updatedAt: now };
    try {
      await this.#state.insert(app);
    } catch (error) {
      if (isUniqueViolation(error))
        throw new ConflictError(`an app named '${name}' already exists`, ErrorCodes.APP_EXISTS);
      throw error;
    }
    return app;
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
