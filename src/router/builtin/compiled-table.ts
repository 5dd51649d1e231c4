import type { RouteMaintenance, RouteTable } from '../route-table.js';
import type { UpstreamPool, UpstreamState } from './upstream-pool.js';

/** A route as the data plane serves it: the upstreams' live states and the round-robin cursor. */
export type CompiledRoute =
  | {
      readonly kind: 'units';
      readonly app: string;
      readonly upstreams: readonly UpstreamState[];
      /** The round-robin cursor; only grows (wrapped by the modulo at use). */
      cursor: number;
      /** Set while the app is in maintenance: answered 503, never passed on. */
      readonly maintenance: RouteMaintenance | undefined;
    }
  | {
      readonly kind: 'static';
      readonly app: string;
      readonly root: string;
      readonly maintenance: RouteMaintenance | undefined;
    };

/**
 * The serving form of a RouteTable: one map lookup per request for an exact host, a second one
 * (by the name without its first label) only when that misses.
 */
export interface CompiledTable {
  readonly table: RouteTable;
  readonly byHost: ReadonlyMap<string, CompiledRoute>;
  /** One-label wildcards, keyed by what follows `*.`: `example.com` for `*.example.com`. */
  readonly byWildcard: ReadonlyMap<string, CompiledRoute>;
}

/**
 * Compiles a table against the pool: upstreams that stay keep their agents and counts, the
 * others are retired (their idle keep-alive sockets close now, their counts drain).
 */
export function compileTable(table: RouteTable, pool: UpstreamPool): CompiledTable {
  const byHost = new Map<string, CompiledRoute>();
  const byWildcard = new Map<string, CompiledRoute>();
  const used = new Set<UpstreamState>();
  for (const route of table.routes) {
    let compiled: CompiledRoute;
    if (route.target.kind === 'units') {
      const upstreams = route.target.upstreams.map((u) => pool.acquire(u));
      for (const u of upstreams) used.add(u);
      // An app in maintenance keeps its upstreams: requests in flight drain on their pooled
      // sockets, and maintenance off finds them warm.
      compiled = {
        kind: 'units',
        app: route.app,
        upstreams,
        cursor: 0,
        maintenance: route.maintenance,
      };
    } else {
      compiled = {
        kind: 'static',
        app: route.app,
        root: route.target.root,
        maintenance: route.maintenance,
      };
    }
    for (const host of route.hosts) {
      if (host.startsWith('*.')) byWildcard.set(host.slice(2), compiled);
      else byHost.set(host, compiled);
    }
  }
  pool.retireAllBut(used);
  return { table, byHost, byWildcard };
}

/**
 * The route of a Host header: the port is stripped and the name lowercased. IPv6 literals
 * (`[::1]:80`) keep their brackets off too.
 */
export function routeFor(
  compiled: CompiledTable,
  hostHeader: string | undefined,
): CompiledRoute | undefined {
  if (hostHeader === undefined) return undefined;
  const key = hostKey(hostHeader);
  const exact = compiled.byHost.get(key);
  if (exact !== undefined || compiled.byWildcard.size === 0) return exact;
  // `*.example.com` covers one label: `a.example.com`, neither `example.com` nor `a.b.…`.
  const dot = key.indexOf('.');
  return dot > 0 ? compiled.byWildcard.get(key.slice(dot + 1)) : undefined;
}

/** The lookup key of a Host header. */
export function hostKey(hostHeader: string): string {
  let end = hostHeader.length;
  if (hostHeader.charCodeAt(0) === 91 /* [ */) {
    const close = hostHeader.indexOf(']');
    return (close > 0 ? hostHeader.slice(1, close) : hostHeader).toLowerCase();
  }
  const colon = hostHeader.lastIndexOf(':');
  if (colon >= 0) end = colon;
  let key = hostHeader.slice(0, end).toLowerCase();
  // A fully qualified name with its root dot (`web1.localhost.`) is the same host.
  if (key.endsWith('.')) key = key.slice(0, -1);
  return key;
}

/**
 * The next upstream of a route, round-robin, passing over upstreams that refused a connection
 * in the last moments (and `exclude`, the one a retry moves away from). When every upstream is
 * passed over, the plain round-robin pick is tried anyway: better a 502 than a guess.
 */
export function pickUpstream(
  route: Extract<CompiledRoute, { kind: 'units' }>,
  now: number,
  exclude?: UpstreamState,
): UpstreamState | undefined {
  const { upstreams } = route;
  const count = upstreams.length;
  if (count === 0) return undefined;
  let fallback: UpstreamState | undefined;
  let index = route.cursor % count;
  for (let i = 0; i < count; i++) {
    const candidate = upstreams[index];
    index = index + 1 === count ? 0 : index + 1;
    if (candidate === undefined || candidate === exclude) continue;
    if (candidate.downUntil <= now) {
      route.cursor = index;
      return candidate;
    }
    fallback ??= candidate;
  }
  route.cursor = index;
  return fallback ?? (exclude !== undefined && count === 1 ? exclude : undefined);
}
