import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../logging/index.js';
import { pickUpstream, type CompiledRoute } from './compiled-table.js';
import { sendErrorOnSocket } from './error-pages.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarded-headers.js';
import { REFUSED_BACKOFF_MS } from './upstream-pool.js';

type UnitsRoute = Extract<CompiledRoute, { kind: 'units' }>;

/** The raw response head for the client socket. */
function head(statusCode: number, statusMessage: string, headers: readonly string[]): string {
  let text = `HTTP/1.1 ${statusCode} ${statusMessage}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/**
 * Passes an upgrade (WebSocket) request to a unit on a connection of its own, outside the
 * keep-alive pool, then pipes the two sockets together; when either side ends or fails, both
 * close. Upgraded connections are long-lived, so they are tracked in `open` (closed when the
 * router stops) and not counted in /inflight, which a rollout waits on to reach zero.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Socket,
  firstBytes: Buffer,
  route: UnitsRoute,
  requestId: string,
  open: Set<Socket>,
  logger: Logger,
): void {
  const upstream = pickUpstream(route, Date.now());
  if (upstream === undefined) {
    sendErrorOnSocket(socket, 503, `${route.app} has no running web process right now`);
    return;
  }
  socket.on('error', () => socket.destroy());
  const proxyReq = http.request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: upstreamRequestHeaders(req, requestId, req.headers.upgrade ?? 'websocket'),
    agent: false,
  });
  const closeBoth = (other?: Socket) => {
    socket.destroy();
    other?.destroy();
  };

  proxyReq.on('upgrade', (proxyRes, upstreamSocket, upstreamFirstBytes) => {
    const headers = clientResponseHeaders(
      proxyRes.rawHeaders.filter((_, i, raw) => raw[i - (i % 2)]?.toLowerCase() !== 'upgrade'),
      undefined,
      requestId,
    );
    // Connection/Upgrade are hop-by-hop elsewhere, but they are the point of a 101.
    headers.push('connection', 'Upgrade', 'upgrade', proxyRes.headers.upgrade ?? 'websocket');
    socket.setNoDelay(true);
    upstreamSocket.setNoDelay(true);
    socket.write(head(101, proxyRes.statusMessage ?? 'Switching Protocols', headers));
    if (upstreamFirstBytes.length > 0) socket.write(upstreamFirstBytes);
    if (firstBytes.length > 0) upstreamSocket.write(firstBytes);
    open.add(socket);
    open.add(upstreamSocket);
    const release = () => {
      open.delete(socket);
      open.delete(upstreamSocket);
      closeBoth(upstreamSocket);
    };
    socket.once('close', release);
    upstreamSocket.once('close', release);
    upstreamSocket.on('error', release);
    socket.pipe(upstreamSocket);
    upstreamSocket.pipe(socket);
  });

  // The unit answered without upgrading (a 400, a 404): pass its answer on and close.
  proxyReq.on('response', (proxyRes) => {
    const headers = clientResponseHeaders(
      proxyRes.rawHeaders,
      proxyRes.headers.connection,
      requestId,
    );
    // The body goes on unframed (a chunked one arrives decoded): closing the socket ends it.
    headers.push('connection', 'close');
    socket.write(head(proxyRes.statusCode ?? 502, proxyRes.statusMessage ?? '', headers));
    proxyRes.pipe(socket);
  });

  proxyReq.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNREFUSED') upstream.downUntil = Date.now() + REFUSED_BACKOFF_MS;
    logger.warn(
      { app: route.app, upstream: upstream.key, code: error.code, requestId },
      'websocket upstream failed',
    );
    sendErrorOnSocket(socket, 502, `${route.app} could not be reached`);
  });
  socket.once('close', () => proxyReq.destroy());
  proxyReq.end();
}
