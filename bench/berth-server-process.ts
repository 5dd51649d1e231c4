// `berth server` as a child process, started as a user starts it, found listening through its
// JSON log, and stopped with SIGTERM (then SIGKILL) however the benchmark ends.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { stopDataPlane } from '../src/server/index.js';

const BERTH_BIN = new URL('../bin/berth.js', import.meta.url).pathname;

/** Generous bounds, so a stuck server fails the run instead of hanging it. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** A running `berth server`. */
export interface BerthServerProcess {
  /** The API's base URL, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** Where the router answers, e.g. http://127.0.0.1:40124. */
  readonly routerUrl: string;
  /** Every JSON line the server has logged so far, parsed, oldest first. */
  readonly logs: readonly Readonly<Record<string, unknown>>[];
  /** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
  stop(): Promise<void>;
}

export interface BerthServerOptions {
  readonly dataDir: string;
  /** BERTH_* settings; the bench's own BERTH_* environment is never passed on. */
  readonly env: Readonly<Record<string, string>>;
}

function serverEnv(settings: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('BERTH_')),
  );
  // The listening line is logged at info.
  return { ...inherited, BERTH_LOG_LEVEL: 'info', ...settings };
}

/** Starts `berth server --data-dir DIR --listen 127.0.0.1:0` and waits until it listens. */
export async function startBerthServer(options: BerthServerOptions): Promise<BerthServerProcess> {
  const child = spawn(
    process.execPath,
    [
      BERTH_BIN,
      'server',
      '--data-dir',
      options.dataDir,
      '--listen',
      '127.0.0.1:0',
      '--router-listen',
      '127.0.0.1:0',
      '--ssh-listen',
      '127.0.0.1:0',
    ],
    { env: serverEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    // The router and units outlive a controller by design; the benchmark ends them.
    await stopDataPlane(options.dataDir, 1000, options.env['BERTH_ENGINE_SOCKET']);
  };
  const logs: Record<string, unknown>[] = [];
  try {
    let routerUrl = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`the server did not listen within ${START_TIMEOUT_MS} ms\n${stderr}`)),
        START_TIMEOUT_MS,
      );
      // Every line is read, not only the first ones: a pipe nobody drains would stall the server.
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        logs.push(entry);
        if (entry['msg'] === 'berth server listening' && typeof entry['url'] === 'string') {
          clearTimeout(timer);
          routerUrl = String(entry['routerUrl']);
          resolve(entry['url']);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${child.exitCode} before listening\n${stderr}`));
      });
    });
    return { url, routerUrl, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
