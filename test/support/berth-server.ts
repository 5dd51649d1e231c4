// `berth server` as a child process, started as a user starts it, for tests and benchmarks
// alike: free ports only (127.0.0.1:0 for the API, the router and SSH, unless the caller names
// one), found listening through its JSON log, and ended with the data plane it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import { stopDataPlane } from '../../src/server/index.js';

/** The berth command of this checkout. */
export const BERTH_BIN = new URL('../../bin/berth.js', import.meta.url).pathname;

/**
 * The node flags of bin/berth.js's first line (`#!/usr/bin/env -S node FLAGS`): a server
 * started here runs as the executable runs, with its V8 settings.
 */
export function berthNodeFlags(): string[] {
  const first = readFileSync(BERTH_BIN, 'utf8').split('\n', 1)[0] ?? '';
  const words = first
    .replace(/^#!\S*env\s+(-S\s+)?/, '')
    .split(/\s+/)
    .filter(Boolean);
  return words[0] === 'node' ? words.slice(1) : [];
}

/** Generous bounds, so a stuck server fails the run instead of hanging it. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** The tail of the server's stderr kept to explain a failure. */
const STDERR_KEPT = 16 * 1024;
/** The listen flags that get a free port unless the caller's args name them. */
const LISTEN_FLAGS = ['--listen', '--router-listen', '--ssh-listen'] as const;

export interface BerthServerOptions {
  /** Passed as --data-dir; its router and units are what `down()` stops. */
  readonly dataDir: string;
  /** Node flags to run bin/berth.js with; default those of its first line (berthNodeFlags). */
  readonly nodeFlags?: readonly string[];
  /** More flags of `berth server`; a listen flag named here replaces its free port. */
  readonly args?: readonly string[];
  /** Set in the server's environment, over the inherited one. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Whether the server sees this process's BERTH_* variables (a test run's settings). Off, the
   * server gets only `env`'s, so a bench measures the defaults whatever the shell has set.
   */
  readonly inheritBerthEnv?: boolean;
  /**
   * Whether every log line is parsed into `logs` for as long as the server runs (default). Off,
   * the output is drained unread once the server listens: a loaded server logs every request,
   * and parsing them would cost the load generator.
   */
  readonly keepLogs?: boolean;
}

/** A running `berth server`. */
export interface BerthServer {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly dataDir: string;
  /** The API's base URL, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** Where the router answers (apps by Host header), e.g. http://127.0.0.1:40124. */
  readonly routerUrl: string;
  /** Git over SSH, e.g. ssh://git@127.0.0.1:40125. */
  readonly sshUrl: string;
  /** The JSON lines the server has logged so far, parsed, oldest first. */
  readonly logs: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /**
   * Stops the controller only (the signal, then SIGKILL after 10 s) and resolves with its exit
   * code. The router and units keep running, as they do for a user: a server started again on
   * the data dir adopts them.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops the controller, then the data plane it leaves behind (what `berth down` does). */
  down(): Promise<void>;
}

function serverEnv(options: BerthServerOptions): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => options.inheritBerthEnv === true || !name.startsWith('BERTH_'),
    ),
  );
  // The listening line is logged at info.
  return { ...inherited, BERTH_LOG_LEVEL: 'info', ...options.env };
}

/** Starts `berth server` on the data dir and resolves once it listens. */
export async function startBerthServer(options: BerthServerOptions): Promise<BerthServer> {
  const args = options.args ?? [];
  const freePorts = LISTEN_FLAGS.filter((flag) => !args.includes(flag)).flatMap((flag) => [
    flag,
    '127.0.0.1:0',
  ]);
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? berthNodeFlags()),
      BERTH_BIN,
      'server',
      '--data-dir',
      options.dataDir,
      ...freePorts,
      ...args,
    ],
    { env: serverEnv(options), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on(
    'data',
    (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT)),
  );
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const down = async () => {
    await stop();
    await stopDataPlane(options.dataDir, 1000, options.env?.['BERTH_ENGINE_SOCKET']);
  };
  const logs: Array<Record<string, unknown>> = [];
  try {
    const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`the server did not listen within ${START_TIMEOUT_MS} ms\n${stderr}`)),
        START_TIMEOUT_MS,
      );
      // Every line is read, not only the first ones: a pipe nobody drains would stall the server.
      const lines = readline.createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        logs.push(entry);
        if (entry['msg'] !== 'berth server listening' || typeof entry['url'] !== 'string') return;
        clearTimeout(timer);
        if (options.keepLogs === false) {
          lines.close();
          child.stdout.resume();
        }
        resolve(entry);
      });
      child.once('error', reject);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${code} before listening\n${stderr}`));
      });
    });
    if (child.pid === undefined) throw new Error('the server process has no pid');
    return {
      child,
      pid: child.pid,
      dataDir: options.dataDir,
      url: String(listening['url']),
      routerUrl: String(listening['routerUrl']),
      sshUrl: String(listening['sshUrl']),
      logs,
      stop,
      down,
    };
  } catch (error) {
    await down().catch(() => undefined);
    throw error;
  }
}
