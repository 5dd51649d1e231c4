// The API's promises on SQLite, measured against `berth server` running as its own process, as
// a user runs it: reads and config writes per second under 32 concurrent clients, and the
// server's resident memory when it idles with 100 apps.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  berthNodeFlags,
  startBerthServer,
  type BerthServer,
} from '../test/support/berth-server.js';
import { compiledBerthEnv } from './compiled-berth.js';
import { percentile, round, tableLines, verdict } from './figures.js';

/**
 * BERTH_BENCH_QUICK=1 runs every step briefly, to check that the bench runs and cleans up (a
 * test does); its figures mean nothing.
 */
const QUICK = process.env['BERTH_BENCH_QUICK'] === '1';
/** Concurrent request loops, each over its own keep-alive socket. */
const CONCURRENCY = 32;
const WARMUP_MS = QUICK ? 100 : 1_000;
const MEASURE_MS = QUICK ? 300 : 5_000;
const IDLE_APPS = QUICK ? 5 : 100;
/** How long the server is left alone before its memory is read; nothing forces a GC. */
const IDLE_SETTLE_MS = QUICK ? 100 : 2_000;
const APP_NAME = 'bench-app';
/**
 * PATCH rotates over this many keys and values; the counts are coprime, so each time a key
 * comes round again its value differs and the row really changes.
 */
const PATCH_KEYS = 8;
const PATCH_VALUES = 5;
/** A generous bound, so a stuck server fails the run instead of hanging it. */
const REQUEST_TIMEOUT_MS = 10_000;

/** What the brief asks of the API; printed beside the figures, never asserted. */
const targets = Object.freeze({ getPerSec: 5_000, idleRssMb: 110 });

/** The benchmark's result, as printed by `--json`. Times are milliseconds. */
export interface ApiFigures {
  readonly getPerSec: number;
  readonly getP99Ms: number;
  readonly patchPerSec: number;
  readonly patchP99Ms: number;
  readonly idleRssMb: number;
}

/** One request of a load: its method, path and JSON body. */
interface RequestSpec {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** Sends requests over a pool of keep-alive sockets, authenticated as the admin. */
class Client {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  readonly #url: URL;
  readonly #authorization: string;

  constructor(url: URL, token: string) {
    this.#url = url;
    this.#authorization = `Bearer ${token}`;
  }

  send(spec: RequestSpec): Promise<Reply> {
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string | number> = { authorization: this.#authorization };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise<Reply>((resolve, reject) => {
      const request = http.request(
        {
          agent: this.#agent,
          host: this.#url.hostname,
          port: this.#url.port,
          method: spec.method,
          path: `/api/v1${spec.path}`,
          headers,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      request.setTimeout(REQUEST_TIMEOUT_MS, () =>
        request.destroy(
          new Error(`${spec.method} ${spec.path}: no answer in ${REQUEST_TIMEOUT_MS} ms`),
        ),
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  /** Sends one request and throws unless it succeeds. */
  async expectOk(spec: RequestSpec): Promise<void> {
    const reply = await this.send(spec);
    if (reply.status < 200 || reply.status > 299)
      throw new Error(`${spec.method} ${spec.path}: ${reply.status} ${reply.body}`);
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** What one timed load did. Latencies are ascending, in milliseconds. */
interface LoadResult {
  readonly perSec: number;
  readonly latencies: readonly number[];
  readonly failures: number;
  /** The first non-2xx answer, to show why. */
  readonly firstFailure: string | undefined;
}

/**
 * Runs CONCURRENCY request loops for `durationMs`, each sending its next request as soon as the
 * previous one is answered. A non-2xx answer is counted; a transport error stops the load.
 */
async function runLoad(
  client: Client,
  durationMs: number,
  next: (n: number) => RequestSpec,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let sent = 0;
  let broken = false;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    while (!broken && performance.now() < deadline) {
      const spec = next(sent++);
      const at = performance.now();
      let reply: Reply;
      try {
        reply = await client.send(spec);
      } catch (error) {
        broken = true;
        throw error;
      }
      latencies.push(performance.now() - at);
      if (reply.status < 200 || reply.status > 299) {
        failures++;
        firstFailure ??= `${spec.method} ${spec.path}: ${reply.status} ${reply.body}`;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const elapsedMs = performance.now() - started;
  return {
    perSec: latencies.length / (elapsedMs / 1_000),
    latencies: latencies.sort((a, b) => a - b),
    failures,
    firstFailure,
  };
}

/** Warms the server up with the same requests, then measures. */
async function measure(client: Client, next: (n: number) => RequestSpec): Promise<LoadResult> {
  await runLoad(client, WARMUP_MS, next);
  return runLoad(client, MEASURE_MS, next);
}

/** The resident set of a process, in MB (MiB), from /proc (so Linux only). */
function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function formatTable(
  figures: ApiFigures,
  loads: { get: LoadResult; patch: LoadResult },
  loadedRssMb: number,
): string[] {
  const perSec = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
  const failures = (load: LoadResult) => load.failures.toLocaleString('en-US');
  const rows = [
    [
      'GET /apps/{app}',
      perSec(figures.getPerSec),
      figures.getP99Ms.toFixed(2),
      `>= ${perSec(targets.getPerSec)} ${verdict(figures.getPerSec >= targets.getPerSec)}`,
      failures(loads.get),
    ],
    [
      'PATCH /apps/{app}/config',
      perSec(figures.patchPerSec),
      figures.patchP99Ms.toFixed(2),
      '',
      failures(loads.patch),
    ],
    [
      `idle RSS, ${IDLE_APPS} apps`,
      `${figures.idleRssMb.toFixed(1)} MB`,
      '',
      `< ${targets.idleRssMb} MB ${verdict(figures.idleRssMb < targets.idleRssMb)}`,
      '',
    ],
    ['RSS after the loads', `${loadedRssMb.toFixed(1)} MB`, '', '', ''],
  ];
  const lines = [
    `api: berth server on SQLite in its own process; ${CONCURRENCY} request loops over ${CONCURRENCY} keep-alive`,
    `     sockets, ${MEASURE_MS / 1_000} s each after ${WARMUP_MS / 1_000} s of warm-up, authenticated as admin`,
    ...tableLines(['measure', 'figure', 'p99 ms', 'target', 'non-2xx'], rows),
    `idle RSS: VmRSS of the server (from dist/) ${IDLE_SETTLE_MS / 1_000} s after creating ${IDLE_APPS} apps, before any load`,
  ];
  for (const load of [loads.get, loads.patch]) {
    if (load.firstFailure !== undefined) lines.push(`first failure: ${load.firstFailure}`);
  }
  return lines;
}

/**
 * Starts `berth server` on a fresh SQLite data dir, measures its idle memory with 100 apps and
 * then GET and PATCH throughput, printing progress to stderr and the table through `print`.
 * The server and its router are stopped and the data dir removed afterwards, also on failure.
 */
export async function runApiBench(print: (line: string) => void): Promise<ApiFigures> {
  const figures = await benchServer(print, undefined);
  // Side by side, in the same run: the same server with V8's default young generation, to
  // show what bin/berth.js's --max-semi-space-size costs in throughput and saves in memory.
  const flags = berthNodeFlags().join(' ') || '(none)';
  process.stderr.write('api: again with V8 defaults, for comparison…\n');
  const defaults = await benchServer(() => undefined, []);
  print(`V8 flags of bin/berth.js (${flags}) against node's defaults, same run:`);
  print(
    `  idle RSS ${figures.idleRssMb} MB vs ${defaults.idleRssMb} MB ` +
      `(${(figures.idleRssMb / defaults.idleRssMb).toFixed(2)}x); GET ${figures.getPerSec}/s vs ` +
      `${defaults.getPerSec}/s (${(figures.getPerSec / defaults.getPerSec).toFixed(2)}x)`,
  );
  return figures;
}

async function benchServer(
  print: (line: string) => void,
  nodeFlags: readonly string[] | undefined,
): Promise<ApiFigures> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-api-'));
  let server: BerthServer | undefined;
  let client: Client | undefined;
  try {
    process.stderr.write('api: starting the server…\n');
    // The server logs every request: its output is drained unread once it listens.
    server = await startBerthServer({
      dataDir,
      keepLogs: false,
      env: compiledBerthEnv(),
      ...(nodeFlags ? { nodeFlags } : {}),
    });
    const adminToken = readFileSync(path.join(dataDir, 'initial-admin-token'), 'utf8').trim();
    client = new Client(new URL(server.url), adminToken);
    const api = client;
    const { pid } = server;

    process.stderr.write(`api: creating ${IDLE_APPS} apps and letting the server idle…\n`);
    await api.expectOk({ method: 'POST', path: '/apps', body: { name: APP_NAME } });
    for (let i = 1; i < IDLE_APPS; i++) {
      await api.expectOk({ method: 'POST', path: '/apps', body: { name: `idle-${i}` } });
    }
    await sleep(IDLE_SETTLE_MS);
    const idleRssMb = residentMb(pid);

    process.stderr.write('api: measuring GET…\n');
    const get = await measure(api, () => ({ method: 'GET', path: `/apps/${APP_NAME}` }));
    process.stderr.write('api: measuring PATCH…\n');
    const patch = await measure(api, (n) => ({
      method: 'PATCH',
      path: `/apps/${APP_NAME}/config`,
      body: { [`KEY_${n % PATCH_KEYS}`]: `value-${n % PATCH_VALUES}` },
    }));
    const loadedRssMb = residentMb(pid);

    const figures: ApiFigures = {
      getPerSec: Math.round(get.perSec),
      getP99Ms: round(percentile(get.latencies, 0.99), 3),
      patchPerSec: Math.round(patch.perSec),
      patchP99Ms: round(percentile(patch.latencies, 0.99), 3),
      idleRssMb: round(idleRssMb, 1),
    };
    for (const line of formatTable(figures, { get, patch }, loadedRssMb)) print(line);
    return figures;
  } finally {
    client?.close();
    // The router outlives the controller by design; the bench ends it too.
    await server?.down();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
