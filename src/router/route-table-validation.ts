import path from 'node:path';
import type { Route, RouteMaintenance, RouteTable, RouteTarget, Upstream } from './route-table.js';

/** A route table that cannot be served; the message names the field and why. */
export class RouteTableError extends Error {
  override readonly name = 'RouteTableError';
  readonly code = 'ROUTE_TABLE_INVALID';
}

/** Lowercase DNS names (labels of letters, digits and hyphens), or an IPv4 address. */
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A one-label wildcard: `*.` and then a host name. */
const WILDCARD_HOST = /^\*\.(.+)$/;

/** Upstream addresses: a DNS name, an IPv4 address or a bracket-free IPv6 address. */
const UPSTREAM_HOST = /^([A-Za-z0-9_.-]{1,253}|[0-9a-fA-F:.]{2,45})$/;

type Json = Record<string, unknown>;

function fail(where: string, message: string): never {
  throw new RouteTableError(`${where}: ${message}`);
}

function object(value: unknown, where: string, keys: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, 'must be an object');
  }
  // Strict: a field this router does not know is refused rather than silently ignored, so a
  // controller newer than its router finds out at once instead of routing wrongly.
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(where, `unknown field '${key}'`);
  }
  return value as Json;
}

function string(value: unknown, where: string, max = 1024): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    fail(where, `must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function array(value: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(where, 'must be an array');
  return value;
}

function upstream(value: unknown, where: string): Upstream {
  const u = object(value, where, ['host', 'port', 'unitId']);
  const host = string(u['host'], `${where}.host`, 253);
  if (!UPSTREAM_HOST.test(host)) fail(`${where}.host`, `'${host}' is not a host name or address`);
  const port = u['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${where}.port`, 'must be a whole number from 1 to 65535');
  }
  return Object.freeze({ host, port, unitId: string(u['unitId'], `${where}.unitId`, 256) });
}

function target(value: unknown, where: string): RouteTarget {
  const kind = object(value, where, ['kind', 'upstreams', 'root'])['kind'];
  if (kind === 'units') {
    const t = object(value, where, ['kind', 'upstreams']);
    const upstreams = array(t['upstreams'], `${where}.upstreams`).map((u, i) =>
      upstream(u, `${where}.upstreams[${i}]`),
    );
    return Object.freeze({ kind, upstreams: Object.freeze(upstreams) });
  }
  if (kind === 'static') {
    const t = object(value, where, ['kind', 'root']);
    const root = string(t['root'], `${where}.root`, 4096);
    if (!path.isAbsolute(root)) fail(`${where}.root`, 'must be an absolute path');
    return Object.freeze({ kind, root });
  }
  fail(`${where}.kind`, "must be 'units' or 'static'");
}

function maintenance(value: unknown, where: string): RouteMaintenance {
  const m = object(value, where, ['message', 'retryAfterSeconds']);
  const message = m['message'] === null ? null : string(m['message'], `${where}.message`, 4096);
  const retry = m['retryAfterSeconds'];
  if (typeof retry !== 'number' || !Number.isInteger(retry) || retry < 0 || retry > 86400) {
    fail(`${where}.retryAfterSeconds`, 'must be a whole number from 0 to 86400');
  }
  return Object.freeze({ message, retryAfterSeconds: retry });
}

/**
 * Checks a route table received from outside (the control socket, routes.json) and returns it
 * frozen. Every host belongs to one route only: two apps on one host would be a silent coin flip.
 */
export function validateRouteTable(value: unknown): RouteTable {
  const t = object(value, 'table', ['generation', 'routes']);
  const generation = t['generation'];
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    fail('generation', 'must be a whole number ≥ 0');
  }
  const seen = new Map<string, string>();
  const routes = array(t['routes'], 'routes').map((value, i): Route => {
    const where = `routes[${i}]`;
    const r = object(value, where, ['app', 'hosts', 'target', 'maintenance']);
    const app = string(r['app'], `${where}.app`, 128);
    const hosts = array(r['hosts'], `${where}.hosts`).map((h, j) => {
      const host = string(h, `${where}.hosts[${j}]`, 253);
      const named = WILDCARD_HOST.exec(host)?.[1] ?? host;
      if (!HOST_NAME.test(named)) {
        fail(`${where}.hosts[${j}]`, `'${host}' is not a lowercase host name without a port`);
      }
      const owner = seen.get(host);
      if (owner !== undefined) fail(`${where}.hosts[${j}]`, `'${host}' is also routed to ${owner}`);
      seen.set(host, app);
      return host;
    });
    if (hosts.length === 0) fail(`${where}.hosts`, 'must name at least one host');
    return Object.freeze({
      app,
      hosts: Object.freeze(hosts),
      target: target(r['target'], `${where}.target`),
      ...(r['maintenance'] === undefined
        ? {}
        : { maintenance: maintenance(r['maintenance'], `${where}.maintenance`) }),
    });
  });
  return Object.freeze({ generation, routes: Object.freeze(routes) });
}
