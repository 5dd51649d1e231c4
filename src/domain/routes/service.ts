import { changeTopic, type ChangeTopic } from '../../changes/index.js';

/** Where an app's traffic goes: its web units, or a directory the router serves itself. */
export type RouteTargetSpec =
  | {
      readonly kind: 'units';
      readonly upstreams: readonly {
        readonly host: string;
        readonly port: number;
        readonly unitId: string;
      }[];
    }
  | { readonly kind: 'static'; readonly root: string };

/** One app's entry in the route table. */
export interface AppRoute {
  readonly appId: string;
  readonly appName: string;
  readonly target: RouteTargetSpec;
  readonly updatedAt: string;
}

/** What the routes service needs from the store. */
export interface RoutesState {
  list(): Promise<AppRoute[]>;
  get(appId: string): Promise<AppRoute | undefined>;
  put(route: AppRoute): Promise<void>;
  remove(appId: string): Promise<boolean>;
  /**
   * The change-stream namespace of the route table, keyed by app id. A route goes with its app
   * (the store cascades), so an app's destruction is a change here too.
   */
  readonly changesNamespace: string;
}

export interface RoutesServiceOptions {
  readonly state: RoutesState;
  readonly clock?: () => Date;
}

function sameTarget(a: RouteTargetSpec, b: RouteTargetSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The route table as desired state. Writing an unchanged target is a no-op, so nothing wakes
 * router sync for nothing.
 */
export class RoutesService {
  readonly #state: RoutesState;
  readonly #clock: () => Date;

  constructor(options: RoutesServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to the route table: what router sync pushes to the router. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  list(): Promise<AppRoute[]> {
    return this.#state.list();
  }

  get(appId: string): Promise<AppRoute | undefined> {
    return this.#state.get(appId);
  }

  /** Points the app's hosts at `target`; says whether anything changed. */
  async set(appId: string, appName: string, target: RouteTargetSpec): Promise<boolean> {
    const current = await this.#state.get(appId);
    if (current && current.appName === appName && sameTarget(current.target, target)) return false;
    await this.#state.put({ appId, appName, target, updatedAt: this.#clock().toISOString() });
    return true;
  }

  /** Takes the app out of the route table (its hosts then answer 404). */
  remove(appId: string): Promise<boolean> {
    return this.#state.remove(appId);
  }
}
