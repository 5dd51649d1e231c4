// The route table the controller hands to a router data plane, and the control protocol of the
// builtin router. Everything here is data: the same table drives the builtin router and HAProxy.

/** One upstream of an app: a unit's address. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly unitId: string;
}

/** Where a host's traffic goes. */
export type RouteTarget =
  /** Round-robin over the app's healthy web units; an empty list answers 503. */
  | { readonly kind: 'units'; readonly upstreams: readonly Upstream[] }
  /** A static site served by the router itself from a directory. */
  | { readonly kind: 'static'; readonly root: string };

/** An app in maintenance mode: the router answers its hosts itself, 503 with this. */
export interface RouteMaintenance {
  /** Shown on the page (escaped); null for the default text. */
  readonly message: string | null;
  /** The `Retry-After` header, in seconds. */
  readonly retryAfterSeconds: number;
}

export interface Route {
  readonly app: string;
  /**
   * Lowercase host names without a port, e.g. `web1.localhost`, or one-label wildcards
   * (`*.example.com` matches `a.example.com`, not `a.b.example.com` nor `example.com`). A
   * request's host is looked up exactly first, then as a wildcard.
   */
  readonly hosts: readonly string[];
  readonly target: RouteTarget;
  /** Present while the app is in maintenance: requests are answered 503, not passed on. */
  readonly maintenance?: RouteMaintenance;
}

/** The whole table. A router swaps it whole; `generation` only grows. */
export interface RouteTable {
  readonly generation: number;
  readonly routes: readonly Route[];
}

/** The empty table a router starts with when it has none on disk. */
export const EMPTY_ROUTE_TABLE: RouteTable = Object.freeze({ generation: 0, routes: [] });

/**
 * The builtin router's control socket speaks HTTP/1.1 with JSON over a unix socket:
 * - `GET /health` → RouterHealth
 * - `GET /routes` → RouteTable
 * - `PUT /routes` RouteTable → 200 {generation} once the table is on disk and serving; 409 if
 *   its generation is lower than the one serving; 400 if malformed.
 * - `GET /inflight` → {"host:port": count} of upstreams with requests in flight, including
 *   upstreams no longer in the table (so a rollout can wait for their requests to finish).
 */
export interface RouterHealth {
  readonly pid: number;
  readonly startedAt: string;
  readonly generation: number;
  /** Where it accepts traffic, `host:port`. */
  readonly listen: string;
}
