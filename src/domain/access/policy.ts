import { ErrorCodes, ForbiddenError } from '../../errors/index.js';
import type { Addon } from '../addons/index.js';
import type { App, AppsService } from '../apps/index.js';

/** What a token may do: read (GET), write (POST/PUT/PATCH), delete (DELETE), admin (users, server). */
export type AccessScope = 'read' | 'write' | 'delete' | 'admin';

/** Who is asking, as far as authorization cares. identity's Principal satisfies it. */
export interface Caller {
  readonly userId: string;
  readonly username: string;
  readonly isAdmin: boolean;
  readonly scopes: ReadonlySet<string>;
}

/** What a route needs: a scope, and optionally one app it touches (by name). */
export interface AccessNeed {
  readonly scope: AccessScope;
  readonly app?: string;
}

/**
 * The one place that decides whether a caller may do something. Routes declare what they
 * need; the API asks this policy before the handler runs. Today an app is reachable by its
 * owner and by admins; teams and finer roles change this class, not the routes.
 */
/** What the policy asks of the add-ons service to decide on an add-on. */
export interface AddonAccess {
  /** The add-on of that name; NotFoundError when there is none. */
  get(name: string): Promise<Addon>;
  /** An admin, its owner, or the owner of an app it is attached to. */
  mayUse(caller: Caller, addon: Addon): Promise<boolean>;
  /** An admin or its owner. */
  mayManage(caller: Caller, addon: Addon): boolean;
}

export class AccessPolicy {
  readonly #apps: AppsService;
  readonly #addons: AddonAccess | undefined;

  constructor(options: { readonly apps: AppsService; readonly addons?: AddonAccess }) {
    this.#apps = options.apps;
    this.#addons = options.addons;
  }

  /**
   * Checks the scope, then returns the add-on `name` if the caller may use it (`use`: read
   * it) or manage it (`manage`: attach, detach, destroy, reveal): 404 when it does not exist,
   * 403 when it is another user's.
   */
  async authorizeAddon(
    caller: Caller,
    need: { readonly scope: AccessScope; readonly addon: string; readonly level: 'use' | 'manage' },
  ): Promise<Addon> {
    this.requireScope(caller, need.scope);
    const addons = this.#addons;
    if (!addons) throw new Error('the access policy was made without add-ons');
    const addon = await addons.get(need.addon);
    const allowed =
      need.level === 'manage'
        ? addons.mayManage(caller, addon)
        : await addons.mayUse(caller, addon);
    if (!allowed) {
      throw new ForbiddenError(
        need.level === 'manage' && (await addons.mayUse(caller, addon))
          ? `add-on '${addon.name}' is another user's: only its owner or an admin may change it`
          : `you have no access to add-on '${addon.name}'`,
        ErrorCodes.ACCESS_DENIED,
      );
    }
    return addon;
  }

  /** Throws ForbiddenError unless the caller's token carries the scope. */
  requireScope(caller: Caller, scope: AccessScope): void {
    if (!caller.scopes.has(scope)) {
      throw new ForbiddenError(`this token lacks the '${scope}' scope`, ErrorCodes.SCOPE_REQUIRED);
    }
    // An 'admin' scope on a token of a user who is no longer an admin grants nothing.
    if (scope === 'admin' && !caller.isAdmin) {
      throw new ForbiddenError('this operation needs an admin user', ErrorCodes.ACCESS_DENIED);
    }
  }

  /** Whether the caller may act on the app at all (scopes aside). */
  mayAccess(caller: Caller, app: App): boolean {
    return caller.isAdmin || app.ownerId === caller.userId;
  }

  /**
   * Checks the need and returns the app it names: the scope first (403), then the app's
   * existence (404), then access to it (403).
   */
  async authorize(caller: Caller, need: AccessNeed): Promise<App | undefined> {
    this.requireScope(caller, need.scope);
    if (need.app === undefined) return undefined;
    const app = await this.#apps.get(need.app);
    if (!this.mayAccess(caller, app)) {
      throw new ForbiddenError(`you have no access to app '${app.name}'`, ErrorCodes.ACCESS_DENIED);
    }
    return app;
  }

  /** The owner filter for listings: undefined (all apps) for admins, else the caller. */
  visibleOwner(caller: Caller): string | undefined {
    return caller.isAdmin ? undefined : caller.userId;
  }
}
