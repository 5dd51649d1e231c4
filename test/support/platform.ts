// Helpers for end-to-end platform tests: deploy a bundle and wait for its task, fetch an app
// through the router by Host, and run a bounded loop of requests that records every failure.
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { tarGzBundle, type BundleFiles } from './bundles.js';

/** Something that can call the API: the in-process test server or a client of a process. */
export interface ApiCaller {
  request(
    method: string,
    pathname: string,
    options?: {
      token?: string;
      body?: unknown;
      raw?: { data: string | Uint8Array; contentType: string };
    },
  ): Promise<{ status: number; body: unknown }>;
}

/** A deployment record, as far as the tests read it. */
export interface DeploymentRecord {
  readonly status: string;
  readonly release: number | null;
  readonly details: {
    readonly error: string | null;
    readonly steps: { name: string; status: string }[];
  };
}

/** Uploads `files` as a bundle and waits until the task finished; returns its record. */
export async function deploy(
  api: ApiCaller,
  token: string,
  app: string,
  files: BundleFiles,
  timeoutMs = 120_000,
): Promise<DeploymentRecord> {
  const bundle = await tarGzBundle(files);
  const queued = await api.request('POST', `/deployments/${app}`, {
    token,
    raw: { data: bundle, contentType: 'application/gzip' },
  });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  return waitForTask(api, token, app, timeoutMs);
}

/** Polls GET /deployments/{app} until it answers 200 (the latest task finished). */
export async function waitForTask(
  api: ApiCaller,
  token: string,
  app: string,
  timeoutMs = 120_000,
): Promise<DeploymentRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await api.request('GET', `/deployments/${app}`, { token });
    if (reply.status === 200) return reply.body as DeploymentRecord;
    assert.equal(reply.status, 204, JSON.stringify(reply.body));
    if (Date.now() > deadline)
      throw new Error(`the task of ${app} did not finish in ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A keep-alive agent for requests to the router. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export interface RoutedReply {
  readonly status: number;
  readonly text: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** GET `path` of `app` through the router at `routerUrl` (Host: `<app>.localhost`). */
export function viaRouter(
  routerUrl: string,
  app: string,
  path = '/',
  options: { agent?: http.Agent | false; timeoutMs?: number; host?: string } = {},
): Promise<RoutedReply> {
  const url = new URL(path, routerUrl);
  return new Promise((resolve, reject) => {
    const request = http.get(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        headers: { host: options.host ?? `${app}.localhost` },
        agent: options.agent ?? agent,
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text, headers: response.headers }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/** Waits until `check` holds, polling; fails with `what` after the timeout. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet: try again until the deadline.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * A bounded loop of requests to an app through the router: `connections` loops, each sending
 * one request after the other, until stop() or `maxMs`. Every failure is kept (status or error).
 */
export class RequestLoop {
  readonly bodies = new Map<string, number>();
  readonly failures: string[] = [];
  requests = 0;
  #stopped = false;
  readonly #loops: Promise<void>[];
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    routerUrl: string,
    app: string,
    options: { connections?: number; maxMs?: number; path?: string } = {},
  ) {
    const deadline = Date.now() + (options.maxMs ?? 60_000);
    const loop = async () => {
      while (!this.#stopped && Date.now() < deadline) {
        try {
          const reply = await viaRouter(routerUrl, app, options.path ?? '/', {
            agent: this.#agent,
          });
          this.requests++;
          if (reply.status !== 200)
            this.failures.push(`${reply.status} ${reply.text.slice(0, 200)}`);
          else this.bodies.set(reply.text, (this.bodies.get(reply.text) ?? 0) + 1);
        } catch (error) {
          this.requests++;
          this.failures.push(error instanceof Error ? error.message : String(error));
        }
      }
    };
    this.#loops = Array.from({ length: options.connections ?? 4 }, loop);
  }

  /** Stops the loops and resolves once every request in flight has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }
}
