// An HTTP load generator for the benchmarks: N keep-alive connections, each a loop of one
// request at a time, in Node (portable), or through `wrk` when asked for and installed.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

/** What to load and how hard. */
export interface LoadOptions {
  readonly url: string;
  /** The Host header to send (the router routes by it); default the URL's. */
  readonly host?: string;
  /** Concurrent keep-alive connections, each with one request outstanding (default 32). */
  readonly connections?: number;
  readonly durationMs: number;
  /** `node` (default) or `wrk`; `wrk` falls back to `node` when it is not installed. */
  readonly tool?: 'node' | 'wrk';
}

/** The figures of one load run. */
export interface LoadResult {
  readonly requests: number;
  /** Failed requests: connection errors and statuses ≥ 500. */
  readonly errors: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Which generator ran. */
  readonly tool: 'node' | 'wrk';
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

function oneRequest(agent: http.Agent, url: URL, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        agent,
        headers: host === undefined ? undefined : { host },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function runNodeLoad(options: LoadOptions): Promise<LoadResult> {
  const connections = options.connections ?? 32;
  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, noDelay: true });
  let latencies = new Float64Array(1 << 16);
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + options.durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        if ((await oneRequest(agent, url, options.host)) >= 500) errors++;
      } catch {
        errors++;
      }
      if (requests === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[requests++] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = performance.now() - started;
  agent.destroy();
  const sorted = latencies.subarray(0, requests).sort();
  return {
    requests,
    errors,
    rps: Math.round((requests / elapsed) * 1000),
    p50Ms: Number(percentile(sorted, 0.5).toFixed(2)),
    p99Ms: Number(percentile(sorted, 0.99).toFixed(2)),
    tool: 'node',
  };
}

const run = promisify(execFile);

/** wrk's latency figures come as "1.23ms", "456.00us" or "1.02s". */
function milliseconds(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!match) return 0;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

async function runWrk(options: LoadOptions): Promise<LoadResult | undefined> {
  const connections = options.connections ?? 32;
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${Math.max(1, Math.round(options.durationMs / 1000))}s`,
  ];
  args.push('--latency');
  if (options.host !== undefined) args.push('-H', `Host: ${options.host}`);
  args.push(options.url);
  let stdout: string;
  try {
    ({ stdout } = await run('wrk', args));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
    .exec(stdout)
    ?.slice(1)
    .reduce((sum, n) => sum + Number(n), 0);
  return {
    requests,
    errors: non2xx + (socketErrors ?? 0),
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0)),
    p50Ms: milliseconds(/\s50%\s+(\S+)/.exec(stdout)?.[1]),
    p99Ms: milliseconds(/\s99%\s+(\S+)/.exec(stdout)?.[1]),
    tool: 'wrk',
  };
}

/**
 * Loads a URL for a while and reports requests/s and latency percentiles. The Node generator
 * runs in this process, so it shares the machine with what it measures: compare figures of one
 * run only, never across machines or runs.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.tool === 'wrk') {
    const result = await runWrk(options);
    if (result !== undefined) return result;
  }
  return runNodeLoad(options);
}
