import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logging/index.js';
import { pickUpstream, type CompiledRoute } from './compiled-table.js';
import { sendErrorPage } from './error-pages.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarded-headers.js';
import {
  destroyIdleSockets,
  REFUSED_BACKOFF_MS,
  type UpstreamPool,
  type UpstreamState,
} from './upstream-pool.js';

/** What the proxy path needs from the router, built once. */
export interface ProxyContext {
  readonly pool: UpstreamPool;
  /** An upstream silent this long (no response, or a stalled body) gets a 504. */
  readonly upstreamTimeoutMs: number;
  readonly logger: Logger;
}

type UnitsRoute = Extract<CompiledRoute, { kind: 'units' }>;

/** Methods that a reset of a reused keep-alive socket may resend: they change nothing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

class UpstreamTimeout extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

/**
 * Sends a request to one of the route's units and streams the answer back. A failure before
 * any response byte is retried once on another unit when resending cannot do harm:
 * - a refused connection (nothing reached the unit; a request body is only read from the client
 *   once the upstream connection is up, so it is still there to send), and
 * - a reset of a reused keep-alive socket (the unit closed it while idle) for GET/HEAD/OPTIONS.
 * A unit that refused is passed over for REFUSED_BACKOFF_MS, so a stopped unit costs no request.
 */
export function proxyRequest(
  context: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: UnitsRoute,
  requestId: string,
): void {
  const length = req.headers['content-length'];
  const hasBody =
    (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  const headers = upstreamRequestHeaders(req, requestId);
  attempt(context, req, res, route, requestId, headers, hasBody, undefined);
}

function attempt(
  context: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: UnitsRoute,
  requestId: string,
  headers: string[],
  hasBody: boolean,
  failed: UpstreamState | undefined,
): void {
  const upstream = pickUpstream(route, Date.now(), failed);
  if (upstream === undefined) {
    sendErrorPage(res, 503, `${route.app} has no running web process right now`, requestId, {
      'retry-after': '5',
    });
    return;
  }
  const { pool } = context;
  pool.begin(upstream);
  let counted = true;
  const finish = () => {
    if (counted) {
      counted = false;
      pool.end(upstream);
    }
  };
  let bodyStarted = false;
  let responded = false;

  const proxyReq = http.request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers,
    agent: upstream.agent,
    timeout: context.upstreamTimeoutMs,
  });

  proxyReq.on('response', (proxyRes) => {
    responded = true;
    res.writeHead(
      proxyRes.statusCode ?? 502,
      clientResponseHeaders(proxyRes.rawHeaders, proxyRes.headers.connection, requestId),
    );
    proxyRes.pipe(res);
    proxyRes.on('close', () => {
      finish();
      // The unit broke off its body: cut the client's too, so it does not take it for whole.
      if (!proxyRes.complete) res.destroy();
    });
  });

  proxyReq.on('timeout', () => proxyReq.destroy(new UpstreamTimeout()));

  proxyReq.on('error', (error: NodeJS.ErrnoException) => {
    finish();
    if (responded) {
      res.destroy();
      return;
    }
    if (res.destroyed || req.destroyed) return; // the client left; nobody to answer
    const code = error.code ?? '';
    if (code === 'ECONNREFUSED') upstream.downUntil = Date.now() + REFUSED_BACKOFF_MS;
    const resendable =
      failed === undefined &&
      !bodyStarted &&
      (code === 'ECONNREFUSED' ||
        (proxyReq.reusedSocket &&
          (code === 'ECONNRESET' || code === 'EPIPE') &&
          SAFE_METHODS.has(req.method ?? '')));
    if (resendable) {
      // A reset reused socket means the unit closed its idle connections (it restarted, or
      // timed them out): the others pooled with it are as dead, so the retry must not get one.
      if (proxyReq.reusedSocket) destroyIdleSockets(upstream.agent);
      attempt(context, req, res, route, requestId, headers, hasBody, upstream);
      return;
    }
    const timedOut = error instanceof UpstreamTimeout;
    context.logger.warn(
      { app: route.app, upstream: upstream.key, code, requestId, retried: failed !== undefined },
      timedOut ? 'upstream timed out' : 'upstream failed',
    );
    sendErrorPage(
      res,
      timedOut ? 504 : 502,
      timedOut
        ? `${route.app} did not answer in time`
        : `${route.app} could not be reached or gave a bad response`,
      requestId,
    );
  });

  // A client that goes away mid-request takes the upstream request with it.
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy();
  });

  if (!hasBody) {
    proxyReq.end();
    return;
  }
  // The body is read from the client only once a connection to the unit is up: if the unit
  // refuses, the body is still unread and the retry can send it to another unit.
  proxyReq.on('socket', (socket) => {
    const send = () => {
      bodyStarted = true;
      req.pipe(proxyReq);
    };
    if (socket.connecting) socket.once('connect', send);
    else send();
  });
}
