// The builtin router's throughput against the app served directly: a Node hello-world upstream
// and the router each in a process of their own, loaded in turns within one run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/logging/index.js';
import {
  ensureRouterProcess,
  RouterClient,
  stopRouterProcess,
  CONTROL_SOCKET,
} from '../src/router/index.js';
import { runLoad, type LoadResult } from './load.js';
import { compiledDefaults } from '../test/support/compiled-defaults.js';

const BERTH_BIN = fileURLToPath(new URL('../bin/berth.js', import.meta.url));

/** A minimal app, as fast as Node serves: what the router's overhead is measured against. */
const HELLO_SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello world\\n');
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

/** The figures of measureRouterVsDirect: the better of two turns each. */
export interface RouterVsDirect {
  readonly routerRps: number;
  readonly directRps: number;
  readonly routerP99Ms: number;
  readonly directP99Ms: number;
  /** routerRps / directRps. */
  readonly ratio: number;
  readonly tool: 'node' | 'wrk';
}

export interface RouterBenchOptions {
  /** Per turn (default 4 s); four turns run after a warm-up. */
  readonly durationMs?: number;
  readonly connections?: number;
  readonly tool?: 'node' | 'wrk';
}

async function startHelloServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', HELLO_SERVER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', (line) => resolve(Number(line)));
    child.once('exit', (code) => reject(new Error(`the upstream exited with ${code}`)));
  });
  return { child, port };
}

function better(a: LoadResult, b: LoadResult): LoadResult {
  return a.rps >= b.rps ? a : b;
}

/**
 * Measures requests/s and p99 at 32 connections straight to the upstream and through the
 * router, alternating direct/router/direct/router and keeping the better turn of each, so a
 * burst of noise on the shared machine hurts one turn, not the ratio.
 */
export async function measureRouterVsDirect(
  print: (line: string) => void,
  options: RouterBenchOptions = {},
): Promise<RouterVsDirect> {
  const durationMs = options.durationMs ?? 4_000;
  const connections = options.connections ?? 32;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-router-'));
  const dir = path.join(dataDir, 'router');
  const upstream = await startHelloServer();
  try {
    const router = await ensureRouterProcess({
      dir,
      listen: { host: '127.0.0.1', port: 0 },
      logger: silentLogger(),
      controlTimeoutMs: compiledDefaults.routerControlTimeoutMs,
      command: {
        execPath: process.execPath,
        args: [BERTH_BIN, 'router', '--data-dir', dataDir, '--router-listen', '127.0.0.1:0'],
      },
    });
    const client = new RouterClient({
      controlSocket: path.join(dir, CONTROL_SOCKET),
      timeoutMs: compiledDefaults.routerControlTimeoutMs,
    });
    await client.putRoutes({
      generation: 1,
      routes: [
        {
          app: 'hello',
          hosts: ['hello.localhost'],
          target: {
            kind: 'units',
            upstreams: [{ host: '127.0.0.1', port: upstream.port, unitId: 'hello.web.1' }],
          },
        },
      ],
    });
    const direct = { url: `http://127.0.0.1:${upstream.port}/`, connections, durationMs };
    const routed = { ...direct, url: `http://${router.listen}/`, host: 'hello.localhost' };
    const tool = options.tool ?? 'node';
    // Warm-up: JIT, keep-alive pools on both sides.
    await runLoad({ ...direct, durationMs: 1_000, tool });
    await runLoad({ ...routed, durationMs: 1_000, tool });
    const turns: { direct: LoadResult[]; router: LoadResult[] } = { direct: [], router: [] };
    for (let i = 0; i < 2; i++) {
      for (const [name, load] of [
        ['direct', direct],
        ['router', routed],
      ] as const) {
        const result = await runLoad({ ...load, tool });
        turns[name].push(result);
        print(
          `  ${name.padEnd(6)} ${String(result.rps).padStart(6)} req/s  p50 ${result.p50Ms} ms  ` +
            `p99 ${result.p99Ms} ms  errors ${result.errors}  (${result.tool}, ${connections} connections)`,
        );
      }
    }
    const bestDirect = turns.direct.reduce(better);
    const bestRouter = turns.router.reduce(better);
    const ratio = Number((bestRouter.rps / bestDirect.rps).toFixed(3));
    print(
      `router/direct: ${(ratio * 100).toFixed(1)}% (router ${bestRouter.rps} req/s, ` +
        `direct ${bestDirect.rps} req/s; target ≥ 45%)`,
    );
    return {
      routerRps: bestRouter.rps,
      directRps: bestDirect.rps,
      routerP99Ms: bestRouter.p99Ms,
      directP99Ms: bestDirect.p99Ms,
      ratio,
      tool: bestRouter.tool,
    };
  } finally {
    await stopRouterProcess(dir, { graceMs: 5_000 });
    upstream.child.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
}

// `node --import tsx bench/router.ts [wrk]` runs it alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const tool = process.argv[2] === 'wrk' ? 'wrk' : 'node';
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(JSON.stringify(await measureRouterVsDirect(print, { tool })));
}
