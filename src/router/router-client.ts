import http from 'node:http';
import type { RouteTable, RouterHealth } from './route-table.js';

/** The router's control socket is not there or does not answer: the router is not running. */
export class RouterUnavailableError extends Error {
  override readonly name = 'RouterUnavailableError';
  readonly code = 'ROUTER_UNAVAILABLE';
  readonly socketPath: string;
  constructor(socketPath: string, reason: string, options?: ErrorOptions) {
    super(`the router is not answering on ${socketPath}: ${reason}`, options);
    this.socketPath = socketPath;
  }
}

/** The router answered, with an error (400 malformed table, 409 stale generation, …). */
export class RouterRequestError extends Error {
  override readonly name = 'RouterRequestError';
  readonly status: number;
  /** The router's error code, e.g. ROUTE_TABLE_INVALID or GENERATION_STALE. */
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface RouterClientOptions {
  /** The control socket, `<data-dir>/router/control.sock`. */
  readonly controlSocket: string;
  /** How long one call may take before the router counts as unavailable. */
  readonly timeoutMs: number;
}

/**
 * The controller's side of the builtin router's control protocol (src/router/route-table.ts).
 * Each call opens its own connection: calls are rare, and a router restarted in between is
 * then found without stale-connection errors.
 */
export class RouterClient {
  readonly #socketPath: string;
  readonly #timeoutMs: number;

  constructor(options: RouterClientOptions) {
    this.#socketPath = options.controlSocket;
    this.#timeoutMs = options.timeoutMs;
  }

  /** The router's pid, start, generation and traffic address. */
  health(): Promise<RouterHealth> {
    return this.#call<RouterHealth>('GET', '/health');
  }

  /** The table serving now. */
  routes(): Promise<RouteTable> {
    return this.#call<RouteTable>('GET', '/routes');
  }

  /** Hands the router a new table; resolves once it is on disk and serving. */
  putRoutes(table: RouteTable): Promise<{ generation: number }> {
    return this.#call<{ generation: number }>('PUT', '/routes', JSON.stringify(table));
  }

  /** Requests in flight per upstream `host:port`, including upstreams no longer routed to. */
  inflight(): Promise<Record<string, number>> {
    return this.#call<Record<string, number>>('GET', '/inflight');
  }

  #call<T>(method: string, path: string, body?: string): Promise<T> {
    const socketPath = this.#socketPath;
    return new Promise<T>((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        { socketPath, method, path, headers, agent: false, timeout: this.#timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) =>
            reject(new RouterUnavailableError(socketPath, error.message, { cause: error })),
          );
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              reject(
                new RouterRequestError(res.statusCode ?? 0, 'BAD_RESPONSE', text.slice(0, 200)),
              );
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(parsed as T);
              return;
            }
            const error = (parsed as { error?: { code?: string; message?: string } }).error;
            reject(
              new RouterRequestError(
                status,
                error?.code ?? 'UNKNOWN',
                error?.message ?? `the router answered ${status}`,
              ),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        const reason =
          error.code === 'ENOENT'
            ? 'the socket does not exist'
            : error.code === 'ECONNREFUSED'
              ? 'nothing listens on the socket'
              : error.message;
        reject(new RouterUnavailableError(socketPath, reason, { cause: error }));
      });
      req.end(body);
    });
  }
}
