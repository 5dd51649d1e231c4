// Real servers for the router tests: upstream apps on loopback, a router in this process, and
// raw HTTP requests (node:http, so paths like /../ reach the router unnormalised).
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../src/logging/index.js';
import {
  RouterClient,
  startRouter,
  type Route,
  type RouteTable,
  type RunningRouter,
  type TrafficLimitOptions,
} from '../../../src/router/index.js';
import { compiledDefaults } from '../../support/compiled-defaults.js';

/** An upstream app: answers with its name, counts requests and TCP connections. */
export interface TestUpstream {
  readonly name: string;
  readonly port: number;
  readonly server: http.Server;
  /** Every request's headers, in order. */
  readonly seen: http.IncomingHttpHeaders[];
  connections: number;
  close(): Promise<void>;
}

/** Starts an upstream; `handler` overrides the default "I am <name>" answer. */
export async function startUpstream(
  name: string,
  handler?: http.RequestListener,
): Promise<TestUpstream> {
  const seen: http.IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    if (handler) return handler(req, res);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.end(`I am ${name} ${req.method} ${req.url}`);
    });
  });
  const upstream: TestUpstream = {
    name,
    port: 0,
    server,
    seen,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
  server.on('connection', (socket: Socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (upstream as { port: number }).port = (server.address() as AddressInfo).port;
  return upstream;
}

/** A route to units. */
export function unitsRoute(app: string, hosts: string[], upstreams: TestUpstream[]): Route {
  return {
    app,
    hosts,
    target: {
      kind: 'units',
      upstreams: upstreams.map((u, i) => ({
        host: '127.0.0.1',
        port: u.port,
        unitId: `${app}.web.${i + 1}`,
      })),
    },
  };
}

/** A router in this process on a fresh directory, with its control client. */
export interface TestRouter {
  readonly router: RunningRouter;
  readonly client: RouterClient;
  readonly dir: string;
  readonly port: number;
  put(routes: Route[], generation?: number): Promise<void>;
  close(): Promise<void>;
}

let generations = 0;

export async function startTestRouter(
  options: { dir?: string; upstreamTimeoutMs?: number; limits?: TrafficLimitOptions } = {},
): Promise<TestRouter> {
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'berth-router-test-')));
  const router = await startRouter({
    dir,
    listen: { host: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    drainMs: compiledDefaults.routerDrainMs,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? compiledDefaults.routerUpstreamTimeoutMs,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const client = new RouterClient({
    controlSocket: router.controlSocket,
    timeoutMs: compiledDefaults.routerControlTimeoutMs,
  });
  return {
    router,
    client,
    dir,
    port: Number(new URL(router.url).port),
    put: async (routes, generation) => {
      const table: RouteTable = { generation: generation ?? ++generations, routes };
      await client.putRoutes(table);
    },
    close: async () => {
      await router.close();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A response, read whole. */
export interface TestResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request through the router with a given Host header. */
export function request(
  port: number,
  host: string,
  options: {
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: http.Agent;
  } = {},
): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: { host, ...options.headers },
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
