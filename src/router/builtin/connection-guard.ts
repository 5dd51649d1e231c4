import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import { sendErrorOnSocket } from './error-pages.js';
import type { CompiledTrafficLimits } from './traffic-limits.js';

/** The traffic server's watch over its connections, beside node:http's own timeouts. */
export interface ConnectionGuard {
  /** A request's headers arrived on `socket`: its first-request deadline no longer applies. */
  requestArrived(socket: Socket): void;
  /** Stops the sweep (the server closes). */
  close(): void;
}

/** `::ffff:10.0.0.1` is 10.0.0.1: one client must not get two allowances by address family. */
function addressKey(socket: Socket): string {
  const address = socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Caps open connections per source address and closes a connection whose first request has
 * not arrived within the headers timeout.
 *
 * node:http's headersTimeout only starts at a request's first byte that is not an empty line,
 * so a client that connects and sends nothing, or sends CRLFs one at a time (RFC 9112 2.2 lets
 * a server skip them), would hold its connection for ever; this deadline runs from the accept.
 * Later requests on a kept-alive connection are node's: keepAliveTimeout while idle, then
 * headersTimeout from the next request's first byte.
 *
 * The cap counts loopback like any address. Behind a proxy of its own every client has the
 * proxy's address, so the cap is a router option. An IPv6 client holding a whole /64 gets an
 * allowance per address; that is left to a firewall.
 */
export function guardConnections(server: Server, limits: CompiledTrafficLimits): ConnectionGuard {
  const perAddress = new Map<string, number>();
  /** Connections without a first request yet, with the time they were accepted. */
  const awaiting = new Map<Socket, number>();

  server.on('connection', (socket: Socket) => {
    const key = addressKey(socket);
    const open = perAddress.get(key) ?? 0;
    if (open >= limits.maxConnectionsPerAddress) {
      // Closed before a byte is read: answering would mean reading the request first.
      socket.destroy();
      return;
    }
    perAddress.set(key, open + 1);
    awaiting.set(socket, performance.now());
    socket.once('close', () => {
      awaiting.delete(socket);
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left === 0) perAddress.delete(key);
      else perAddress.set(key, left);
    });
  });

  // One sweep for all connections rather than a timer each: accepting stays cheap.
  const sweep = setInterval(() => {
    const deadline = performance.now() - limits.headersTimeoutMs;
    for (const [socket, acceptedAt] of awaiting) {
      // A Map iterates in insertion order: the rest were accepted later.
      if (acceptedAt > deadline) break;
      awaiting.delete(socket);
      sendErrorOnSocket(socket, 408, 'the request did not arrive in time');
    }
  }, limits.checkIntervalMs);
  sweep.unref();

  return {
    requestArrived: (socket) => {
      if (awaiting.size > 0) awaiting.delete(socket);
    },
    close: () => clearInterval(sweep),
  };
}
