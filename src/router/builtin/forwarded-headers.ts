import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An incoming X-Request-Id worth keeping: printable, no spaces, of a sane length. */
const REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/**
 * Request headers that describe one hop and never go further (RFC 9110 7.6.1), plus the ones
 * the router sets itself. Keys are lowercase; raw header names are lowercased to look them up.
 */
const DROPPED_REQUEST = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

const DROPPED_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'x-request-id',
]);

/** The request's id: a well-formed incoming X-Request-Id, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Names listed in a Connection header are hop-by-hop too; `keep-alive`/`close` are common. */
function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let tokens: Set<string> | undefined;
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === '' || token === 'keep-alive' || token === 'close') continue;
    (tokens ??= new Set()).add(token);
  }
  return tokens;
}

/**
 * The header list for the upstream request, as a flat raw array (the form node:http writes
 * without building an object): the client's end-to-end headers in their order and spelling,
 * then X-Forwarded-For (appended to), -Proto, -Host and X-Request-Id.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  requestId: string,
  upgrade?: string,
): string[] {
  const raw = req.rawHeaders;
  const extra = connectionTokens(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (DROPPED_REQUEST.has(lower) || extra?.has(lower)) continue;
    out.push(name, raw[i + 1] as string);
  }
  // Node joins repeated X-Forwarded-For lines into one string; the type allows a list anyway.
  const header = req.headers['x-forwarded-for'];
  const prior = Array.isArray(header) ? header.join(', ') : header;
  const client = req.socket.remoteAddress ?? 'unknown';
  out.push('x-forwarded-for', prior ? `${prior}, ${client}` : client);
  out.push('x-forwarded-proto', 'http');
  out.push('x-forwarded-host', req.headers.host ?? '');
  out.push('x-request-id', requestId);
  if (upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', upgrade);
  return out;
}

/** The upstream response's headers for the client, as a flat raw array, with the request id. */
export function clientResponseHeaders(
  rawHeaders: readonly string[],
  connection: string | undefined,
  requestId: string,
): string[] {
  const extra = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (DROPPED_RESPONSE.has(lower) || extra?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  out.push('x-request-id', requestId);
  return out;
}
