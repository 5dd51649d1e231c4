import http from 'node:http';
import type { Socket } from 'node:net';
import { hostKey, routeFor, type CompiledTable } from './compiled-table.js';
import { sendErrorOnSocket, sendErrorPage } from './error-pages.js';
import { requestIdOf } from './forwarded-headers.js';
import { proxyRequest, type ProxyContext } from './proxy.js';
import { checkRequest } from './request-checks.js';
import { serveStatic } from './static-files.js';
import { proxyUpgrade } from './websocket.js';

/** What the traffic server reads on every request. */
export interface TrafficContext extends ProxyContext {
  /** The table serving now; swapped whole by the control socket. */
  current(): CompiledTable;
  /** Upgraded (WebSocket) sockets, closed when the router stops. */
  readonly upgraded: Set<Socket>;
}

/**
 * The HTTP server for apps' traffic: routes by Host header to a unit (proxied) or a static
 * site (served). No per-request logging: a busy router would spend its time writing logs.
 * Requests RFC 9112 asks to refuse get a 400 before routing (request-checks.ts).
 */
export function createTrafficServer(context: TrafficContext): http.Server {
  /**
   * Connections a request was refused on. Node reads pipelined requests ahead and emits them
   * before the refusal's answer is out; nothing after a malformed request can be trusted to be
   * framed as it looks, so none of them is served.
   */
  const refused = new WeakSet<Socket>();
  const server = http.createServer(
    {
      // Longer than typical clients' idle pools and load balancers' (60 s), so the router is
      // not the side that closes an idle keep-alive connection as a request arrives on it.
      keepAliveTimeout: 65_000,
      headersTimeout: 30_000,
      requestTimeout: 0,
      noDelay: true,
    },
    (req, res) => {
      const socket = req.socket;
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
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const fault = checkRequest(req);
    const route = fault === undefined ? routeFor(context.current(), req.headers.host) : undefined;
    if (fault !== undefined) {
      sendErrorOnSocket(socket, fault.status, fault.message);
    } else if (route === undefined) {
      const host = req.headers.host === undefined ? '(no Host header)' : hostKey(req.headers.host);
      sendErrorOnSocket(socket, 404, `no app at ${host}`);
    } else if (route.kind === 'static') {
      sendErrorOnSocket(socket, 400, 'a static site does not upgrade connections');
    } else {
      proxyUpgrade(req, socket, head, route, requestIdOf(req), context.upgraded, context.logger);
    }
  });
  // A malformed request gets a plain 400, never a stack; a reset mid-request needs no answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    sendErrorOnSocket(socket, 400, 'the request could not be read');
  });
  return server;
}
