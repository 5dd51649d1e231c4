import type { RouteTable } from '../route-table.js';
import type { UpstreamPool, UpstreamState } from './upstream-pool.js';

/** A route as the data plane serves it: the upstreams' live states and the round-robin cursor. */
export type CompiledRoute =
  | {
      readonly kind: 'units';
      readonly app: string;
      readonly upstreams: readonly UpstreamState[];
      /** The round-robin cursor; only grows (wrapped by the modulo at use). */
      cursor: number;
    }
  | { readonly kind: 'static'; readonly app: string; readonly root: string };

/** The serving form of a RouteTable: one map lookup per request. */
export interface CompiledTable {
  readonly table: RouteTable;
  readonly byHost: ReadonlyMap<string, CompiledRoute>;
}

/**
 * Compiles a table against the pool: upstreams that stay keep their agents and counts, the
 * others are retired (their idle keep-alive sockets close now, their counts drain).
 */
export function compileTable(table: RouteTable, pool: UpstreamPool): CompiledTable {
  const byHost = new Map<string, CompiledRoute>();
  const used = new Set<UpstreamState>();
  for (const route of table.routes) {
    let compiled: CompiledRoute;
    if (route.target.kind === 'units') {
      const upstreams = route.target.upstreams.map((u) => pool.acquire(u));
      for (const u of upstreams) used.add(u);
      compiled = { kind: 'units', app: route.app, upstreams, cursor: 0 };
    } else {
      compiled = { kind: 'static', app: route.app, root: route.target.root };
    }
    for (const host of route.hosts) byHost.set(host, compiled);
  }
  pool.retireAllBut(used);
  return { table, byHost };
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
  return compiled.byHost.get(hostKey(hostHeader));
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
