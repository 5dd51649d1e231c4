import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Logger } from '../../logging/index.js';
import type { RouteTable, RouterHealth } from '../route-table.js';
import { RouteTableError, validateRouteTable } from '../route-table-validation.js';

/** The largest table a PUT may carry; far above any real one, it only bounds memory. */
const MAX_TABLE_BYTES = 16 * 1024 * 1024;

/** What the control socket reads and changes in the router. */
export interface ControlHandlers {
  health(): RouterHealth;
  table(): RouteTable;
  /**
   * Serves and persists the table, resolving once both are done ('stale' when its generation
   * is below the serving one); a table that could not be persisted is not served.
   */
  replaceTable(table: RouteTable): Promise<'replaced' | 'stale'>;
  inflight(): Record<string, number>;
}

/** Another router already answers on the control socket of this directory. */
export class RouterAlreadyRunningError extends Error {
  override readonly name = 'RouterAlreadyRunningError';
  constructor(socketPath: string) {
    super(`a router already answers on ${socketPath}; stop it first (berth down)`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code, message } });
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_TABLE_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(
  handlers: ControlHandlers,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const route = `${req.method} ${req.url}`;
  switch (route) {
    case 'GET /health':
      return send(res, 200, handlers.health());
    case 'GET /routes':
      return send(res, 200, handlers.table());
    case 'GET /inflight':
      return send(res, 200, handlers.inflight());
    case 'PUT /routes': {
      const text = await readBody(req);
      if (text === undefined) {
        return fail(res, 413, 'TOO_LARGE', `a route table is limited to ${MAX_TABLE_BYTES} bytes`);
      }
      let table: RouteTable;
      try {
        table = validateRouteTable(JSON.parse(text));
      } catch (error) {
        const message = error instanceof RouteTableError ? error.message : 'the body is not JSON';
        return fail(res, 400, 'ROUTE_TABLE_INVALID', message);
      }
      if ((await handlers.replaceTable(table)) === 'stale') {
        const serving = handlers.table().generation;
        return fail(
          res,
          409,
          'GENERATION_STALE',
          `generation ${table.generation} is older than the serving generation ${serving}`,
        );
      }
      return send(res, 200, { generation: table.generation });
    }
    default:
      return fail(res, 404, 'NOT_FOUND', `no ${route} here; see src/router/route-table.ts`);
  }
}

/** Resolves true when something accepts connections on the socket path. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Starts the control server on a unix socket readable by this user only. A socket file left by
 * a router that died is replaced; a live one is not (two routers on one directory would fight
 * over routes.json).
 */
export async function startControlServer(
  socketPath: string,
  handlers: ControlHandlers,
  logger: Logger,
): Promise<http.Server> {
  if (await answers(socketPath)) throw new RouterAlreadyRunningError(socketPath);
  await rm(socketPath, { force: true });
  const server = http.createServer((req, res) => {
    handle(handlers, req, res).catch((error: unknown) => {
      logger.error({ err: error, request: `${req.method} ${req.url}` }, 'control request failed');
      if (!res.headersSent) fail(res, 500, 'INTERNAL', 'the router could not do that; see its log');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return server;
}
