import type { IncomingMessage } from 'node:http';
import { hostKey } from './compiled-table.js';

/** Why a request is refused before it is routed: the status and the visitor's message. */
export interface RequestFault {
  readonly status: 400 | 505;
  readonly message: string;
}

const fault = (status: RequestFault['status'], message: string): RequestFault =>
  Object.freeze({ status, message });

const HTTP_09 = fault(400, 'the request line has no HTTP version');
const VERSION = fault(505, 'only HTTP/1.0 and HTTP/1.1 are served here');
const TWO_HOSTS = fault(400, 'the request has more than one Host header');
const BAD_HOST = fault(400, 'the Host header is not a host name');
const BAD_TARGET = fault(400, 'the request target is not a path on this host');
const OTHER_HOST = fault(400, 'the request target names another host than the Host header');

/**
 * RFC 9112 3.2's Host: uri-host [":" port], where uri-host is an IP literal or a reg-name
 * (unreserved, pct-encoded, sub-delims). Spaces, slashes, `@` and the like never name a route,
 * and an app must not get them in X-Forwarded-Host to build its links from.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/**
 * What the router refuses on top of node:http's parser (llhttp, strict: the router never sets
 * insecureHTTPParser). llhttp already answers 400 through clientError for a request with both
 * Content-Length and Transfer-Encoding, repeated or listed Content-Length, a Transfer-Encoding
 * that does not end in chunked, whitespace before a header's colon, obs-fold, bare LF or CR
 * line ends and control characters in a field (test/router/hostile.test.ts keeps it so). What
 * it lets through, and RFC 9112 asks a server to refuse:
 * - a request line without a version (HTTP/0.9 `GET /`), which node reads as version 0.9 and
 *   even parses headers after: 400 (3: an invalid request-line); HTTP/2 and later over this
 *   text syntax: 505.
 * - two Host lines (3.2: MUST answer 400). Node keeps the first in `headers.host` but forwards
 *   both raw lines, so the router would route by one while the app reads the other.
 * - a Host value that is not a host (3.2: MUST answer 400 to an invalid field value).
 * - a target that is neither a path, `*` for OPTIONS, nor absolute-form (3.2).
 * - an absolute-form target (`GET http://other/ HTTP/1.1`) naming another host than Host. 3.2.2
 *   has an origin server route by the target and ignore Host, but a proxy in front of the router
 *   or the app behind it may read Host instead: refusing the mismatch means every hop sees one
 *   host. A matching one is accepted, as 3.2.2 requires, and goes on in origin-form.
 * Returns undefined for a request to serve; an accepted absolute-form target is rewritten in
 * `req.url` to its path, so the router and the app both read origin-form.
 */
export function checkRequest(req: IncomingMessage): RequestFault | undefined {
  if (req.httpVersionMajor !== 1) return req.httpVersionMajor === 0 ? HTTP_09 : VERSION;
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // The length check first: most names are not four letters long, and lowercasing costs.
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return TWO_HOSTS;
  }
  const host = req.headers.host;
  if (host !== undefined && !HOST.test(host)) return BAD_HOST;
  const url = req.url ?? '';
  if (url.charCodeAt(0) === 47 /* / */) return undefined;
  if (url === '*') return req.method === 'OPTIONS' ? undefined : BAD_TARGET;
  return absoluteForm(req, url, host);
}

/** An absolute-form target: its authority must be the Host's; it goes on as its path. */
function absoluteForm(
  req: IncomingMessage,
  url: string,
  host: string | undefined,
): RequestFault | undefined {
  const match = /^https?:\/\/([^/?#]*)/i.exec(url);
  if (match === null || host === undefined) return BAD_TARGET;
  const authority = match[1] as string;
  // Userinfo in a target is deprecated and a known phishing device (RFC 9110 4.2.4).
  if (authority.includes('@') || !HOST.test(authority) || authority === '') return BAD_TARGET;
  // The port is not compared: the router routes by name alone, as it does for Host.
  if (hostKey(authority) !== hostKey(host)) return OTHER_HOST;
  // The path is kept as sent (not normalised by a URL parser), as an origin-form one is.
  const rest = url.slice(match[0].length);
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  return undefined;
}
