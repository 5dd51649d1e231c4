import http from 'node:http';
import type { Socket } from 'node:net';
import { hostKey, routeFor, type CompiledTable } from './compiled-table.js';
import { guardConnections } from './connection-guard.js';
import {
  MAINTENANCE_TEXT,
  sendErrorOnSocket,
  sendErrorPage,
  sendMaintenancePage,
} from './error-pages.js';
import { requestIdOf } from './forwarded-headers.js';
import { proxyRequest, type ProxyContext } from './proxy.js';
import { checkRequest } from './request-checks.js';
import { serveStatic } from './static-files.js';
import type { CompiledTrafficLimits } from './traffic-limits.js';
import { proxyUpgrade } from './websocket.js';

/** What the traffic server reads on every request. */
export interface TrafficContext extends ProxyContext {
  /** The table serving now; swapped whole by the control socket. */
  current(): CompiledTable;
  /** Upgraded (WebSocket) sockets, closed when the router stops. */
  readonly upgraded: Set<Socket>;
  readonly limits: CompiledTrafficLimits;
}

/** node:http's in-flight response on a socket; private, read as node's own clientError does. */
function responseStarted(socket: Socket): boolean {
  const message = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return message?.headersSent === true;
}

/**
 * The HTTP server for apps' traffic: routes by Host header to a unit (proxied) or a static
 * site (served). No per-request logging: a busy router would spend its time writing logs.
 * Requests RFC 9112 asks to refuse get a 400 before routing (request-checks.ts); slow clients
 * and one address's connections are bounded by `limits`.
 */
export function createTrafficServer(context: TrafficContext): http.Server {
  const { limits } = context;
  /**
   * Connections a request was refused on. Node reads pipelined requests ahead and emits them
   * before the refusal's answer is out; nothing after a malformed request can be trusted to be
   * framed as it looks, so none of them is served.
   */
  const refused = new WeakSet<Socket>();
  const server = http.createServer(
    {
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Both run from a request's first byte and are checked every checkIntervalMs; the
      // request timeout ends once the body is in, so a long response is never cut by it.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
      noDelay: true,
    },
    (req, res) => {
      const socket = req.socket;
      guard.requestArrived(socket);
      // Left unanswered: node closes the connection once the refusal is out.
      if (refused.has(socket)) return;
      const requestId = requestIdOf(req);
      const fault = checkRequest(req);
      if (fault !== undefined) {
        refused.add(socket);
        res.shouldKeepAlive = false;
        sendErrorPage(res, fault.status, fault.message, requestId);
        return;
      }
      const route = routeFor(context.current(), req.headers.host);
      if (route === undefined) {
        const host =
          req.headers.host === undefined ? '(no Host header)' : hostKey(req.headers.host);
        sendErrorPage(res, 404, `no app at ${host}`, requestId);
      } else if (route.maintenance !== undefined) {
        sendMaintenancePage(res, route.maintenance, requestId);
      } else if (route.kind === 'units') {
        proxyRequest(context, req, res, route, requestId);
      } else {
        serveStatic(req, res, route.root, requestId).catch((error: unknown) => {
          context.logger.error({ err: error, app: route.app, requestId }, 'static file failed');
          sendErrorPage(res, 500, 'the file could not be read', requestId);
        });
      }
    },
  );
  const guard = guardConnections(server, limits);
  server.on('close', () => guard.close());
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    guard.requestArrived(socket);
    const fault = checkRequest(req);
    const route = fault === undefined ? routeFor(context.current(), req.headers.host) : undefined;
    if (fault !== undefined) {
      sendErrorOnSocket(socket, fault.status, fault.message);
    } else if (route === undefined) {
      const host = req.headers.host === undefined ? '(no Host header)' : hostKey(req.headers.host);
      sendErrorOnSocket(socket, 404, `no app at ${host}`);
    } else if (route.maintenance !== undefined) {
      sendErrorOnSocket(socket, 503, route.maintenance.message ?? MAINTENANCE_TEXT);
    } else if (route.kind === 'static') {
      sendErrorOnSocket(socket, 400, 'a static site does not upgrade connections');
    } else {
      proxyUpgrade(req, socket, head, route, requestIdOf(req), context.upgraded, context.logger);
    }
  });
  // A malformed request gets a plain 400, never a stack; a reset mid-request needs no answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way (a body that timed out while the unit answers): a page now
    // would land inside it, so the connection is cut instead, as node does without a listener.
    if (error.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      sendErrorOnSocket(socket, 408, 'the request did not arrive in time');
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      sendErrorOnSocket(socket, 431, 'the request headers are too large');
    } else {
      sendErrorOnSocket(socket, 400, 'the request could not be read');
    }
  });
  return server;
}
