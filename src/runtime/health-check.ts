import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where and how patiently to look for a unit that answers. */
export interface HealthCheckOptions {
  readonly host: string;
  readonly port: number;
  /** With a path: an HTTP GET that must answer 2xx or 3xx. Without: a TCP connect. */
  readonly path?: string;
  /** The bound of one attempt. */
  readonly timeoutMs: number;
  readonly attempts: number;
  /** The pause between attempts. */
  readonly intervalMs: number;
  /** Aborting stops waiting at once; the result is then not ok. */
  readonly signal?: AbortSignal;
}

/** The outcome of a health check; `reason` tells what the last attempt saw. */
export type HealthCheckResult =
  | { readonly ok: true; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly reason: string };

/** The result of one attempt: undefined when healthy, else why not. */
type Attempt = Promise<string | undefined>;

function describeError(error: unknown, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ETIMEDOUT') return `timed out after ${timeoutMs} ms`;
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'ABORT_ERR') return 'aborted';
  return error instanceof Error ? error.message : String(error);
}

function httpAttempt(options: HealthCheckOptions, path: string, signal: AbortSignal): Attempt {
  return new Promise((resolve) => {
    const request = http.get({
      host: options.host,
      port: options.port,
      path,
      // A fresh socket per attempt: a pooled one could hide a unit that stopped listening.
      agent: false,
      headers: { Host: 'localhost' },
      signal,
    });
    const timer = setTimeout(() => {
      request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    }, options.timeoutMs);
    request.on('response', (response) => {
      clearTimeout(timer);
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? undefined : `GET ${path} answered ${status}`);
      request.destroy();
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      resolve(describeError(error, options.timeoutMs));
    });
  });
}

function tcpAttempt(options: HealthCheckOptions, signal: AbortSignal): Attempt {
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.host, port: options.port, signal });
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    }, options.timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve(describeError(error, options.timeoutMs));
    });
  });
}

/**
 * Checks that something answers on host:port, up to `attempts` times. Deployments use it to
 * decide when a new unit may take traffic; it never throws, it reports.
 */
export async function checkHealth(options: HealthCheckOptions): Promise<HealthCheckResult> {
  const signal = options.signal ?? new AbortController().signal;
  const attempts = Math.max(1, Math.floor(options.attempts));
  let reason = 'not checked';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (signal.aborted) return { ok: false, attempts: attempt - 1, reason: 'aborted' };
    const failure =
      options.path === undefined
        ? await tcpAttempt(options, signal)
        : await httpAttempt(options, options.path, signal);
    if (failure === undefined) return { ok: true, attempts: attempt };
    reason = signal.aborted ? 'aborted' : failure;
    if (signal.aborted) return { ok: false, attempts: attempt, reason };
    if (attempt < attempts) {
      try {
        await sleep(options.intervalMs, undefined, { signal });
      } catch {
        return { ok: false, attempts: attempt, reason: 'aborted' };
      }
    }
  }
  return { ok: false, attempts, reason };
}
