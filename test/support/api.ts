// A real Berth server for API tests: in-process, listening on a free loopback port, over a
// fresh SQLite or PostgreSQL store, with its log captured so tests can check what it says.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/index.js';
import { loadOrCreateMasterKey, SecretBox } from '../../src/secrets/index.js';
import {
  compileServerOptions,
  startServer,
  stopDataPlane,
  type RunningServer,
  type ServerOptions,
} from '../../src/server/index.js';
import { createTestDatabase, type Backend, type TestDatabase } from './databases.js';
import { testEngineSocket } from './engine.js';

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or undefined when there is none. */
  readonly body: unknown;
}

export interface RequestOptions {
  readonly token?: string | undefined;
  readonly body?: unknown;
  /** A raw body sent as is (with its content type). */
  readonly raw?: { readonly data: string | Uint8Array; readonly contentType: string };
  readonly headers?: Record<string, string>;
}

export interface TestServer {
  readonly backend: Backend;
  readonly url: string;
  readonly server: RunningServer;
  readonly location: TestDatabase;
  readonly adminToken: string;
  /** Every log line the server wrote, as text. */
  readonly logText: () => string;
  request(method: string, pathname: string, options?: RequestOptions): Promise<ApiResponse>;
  /** Stops the server and drops its store. Register it with `after` at suite level. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** BERTH_* tuning variables for this server (e.g. BERTH_TEST_DEPLOY_STEP_DELAY_MS). */
  readonly env?: NodeJS.ProcessEnv;
  /** 'container': apps run on the test run's real engine (see support/engine.ts). */
  readonly runtime?: 'process' | 'container';
  /** Another engine socket than the test run's (a test that stops its own engine). */
  readonly engineSocket?: string;
  /** Compiled options set over those the flags and `env` give (values with no variable). */
  readonly compiled?: Partial<ServerOptions>;
}

/**
 * A range of unit ports of this test server's own: test files run side by side, and two
 * runtimes that picked the same free port at the same moment would collide.
 */
export function testUnitPorts(): string {
  // Above the runtime tests' fixed ranges (21000–24999), below Linux's ephemeral ports (32768).
  const from = 25_000 + Math.floor(Math.random() * 77) * 100;
  return `${from}-${from + 99}`;
}

export async function startTestServer(
  backend: Backend,
  serverOptions: TestServerOptions = {},
): Promise<TestServer> {
  const location = await createTestDatabase(backend);
  const engineSocket =
    serverOptions.runtime === 'container'
      ? (serverOptions.engineSocket ?? testEngineSocket())
      : undefined;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const options = compileServerOptions(
    {
      'data-dir': location.dataDir,
      listen: '127.0.0.1:0',
      'router-listen': '127.0.0.1:0',
      'ssh-listen': '127.0.0.1:0',
      ...(location.databaseUrl ? { 'database-url': location.databaseUrl } : {}),
      ...(engineSocket ? { runtime: 'container', 'engine-socket': engineSocket } : {}),
    },
    {
      BERTH_UNIT_PORTS: testUnitPorts(),
      BERTH_CONTAINER_PORTS: testUnitPorts(),
      ...serverOptions.env,
    },
  );
  const server = await startServer(
    Object.freeze({ ...options, ...serverOptions.compiled }),
    createLogger({ level: 'info', destination: sink }),
  );
  const adminToken = readFileSync(
    path.join(location.dataDir, 'initial-admin-token'),
    'utf8',
  ).trim();
  const url = `${server.apiUrl}`;
  return {
    backend,
    url,
    server,
    location,
    adminToken,
    logText: () => lines.join(''),
    async close() {
      await server.close();
      // The data plane (router, units) outlives a controller by design; a test ends it.
      await stopDataPlane(location.dataDir, 1000, engineSocket);
      await location.drop();
    },
    async request(method, pathname, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      if (requestOptions.token !== undefined)
        headers['authorization'] = `Bearer ${requestOptions.token}`;
      let body: string | Uint8Array | undefined;
      if (requestOptions.raw) {
        body = requestOptions.raw.data;
        headers['content-type'] = requestOptions.raw.contentType;
      } else if (requestOptions.body !== undefined) {
        body = JSON.stringify(requestOptions.body);
        headers['content-type'] = 'application/json';
      }
      const response = await fetch(`${url}/api/v1${pathname}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
  };
}

/** The error code of an error response. */
export function errorCode(response: ApiResponse): string | undefined {
  return (response.body as { error?: { code?: string } } | undefined)?.error?.code;
}

/** Creates a user as admin and logs them in; returns their login token. */
export async function createUserAndLogin(
  api: TestServer,
  username: string,
  isAdmin = false,
): Promise<string> {
  const password = `pw-${username}-correct-horse`;
  const created = await api.request('POST', '/users', {
    token: api.adminToken,
    body: { username, password, isAdmin },
  });
  if (created.status !== 201)
    throw new Error(`creating ${username}: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await api.request('POST', '/auth/login', { body: { username, password } });
  if (login.status !== 200)
    throw new Error(`login ${username}: ${login.status} ${JSON.stringify(login.body)}`);
  return (login.body as { token: string }).token;
}

/** Creates a token with exactly these scopes for the holder of `token`. */
export async function tokenWithScopes(
  api: TestServer,
  token: string,
  scopes: string[],
): Promise<string> {
  const created = await api.request('POST', '/tokens', {
    token,
    body: { name: `scopes ${scopes.join(' ')}`, scopes },
  });
  if (created.status !== 201)
    throw new Error(`token ${scopes.join()}: ${created.status} ${JSON.stringify(created.body)}`);
  return (created.body as { token: string }).token;
}

/**
 * Writes a config var straight into the store, sealed as the service seals it, bypassing the
 * API's checks: a key an older Berth accepted and the API refuses now (PORT, BERTH_APP).
 */
export async function storeConfigVarAsOlderBerth(
  server: TestServer,
  appId: string,
  key: string,
  value: string,
): Promise<void> {
  const box = new SecretBox(
    loadOrCreateMasterKey({ dataDir: server.location.dataDir, env: process.env }),
  );
  const now = new Date().toISOString();
  await server.server.store.db
    .insertInto('config_vars')
    .values({
      app_id: appId,
      key,
      envelope: box.seal(value, `config:${appId}:${key}`),
      created_at: now,
      updated_at: now,
    })
    .execute();
}
