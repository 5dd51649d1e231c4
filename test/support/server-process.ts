// Runs `bin/berth.js server` as a child process, as a user would, and finds its API URL in
// its JSON log.
import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import readline from 'node:readline';
import { stopDataPlane } from '../../src/server/index.js';
import { testUnitPorts } from './api.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Where the router answers (apps by Host header). */
  readonly routerUrl: string;
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export const BERTH_BIN = new URL('../../bin/berth.js', import.meta.url).pathname;

export function startServerProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const routerArgs = args.includes('--router-listen') ? [] : ['--router-listen', '127.0.0.1:0'];
  const sshArgs = args.includes('--ssh-listen') ? [] : ['--ssh-listen', '127.0.0.1:0'];
  const child = spawn(
    process.execPath,
    [BERTH_BIN, 'server', '--listen', '127.0.0.1:0', ...routerArgs, ...sshArgs, ...args],
    {
      env: { ...process.env, BERTH_UNIT_PORTS: testUnitPorts(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const dataDir = args[args.indexOf('--data-dir') + 1];
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    // The data plane outlives the controller by design; the test ends it.
    if (args.includes('--data-dir') && dataDir) await stopDataPlane(dataDir, 1000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in 30 s\n${stderr}`)),
      30_000,
    );
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
        resolve({
          child,
          url: entry['url'],
          routerUrl: String(entry['routerUrl']),
          logs,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\n${stderr}`));
    });
  });
}

/** Runs `berth ARGS` to completion. */
export function runBerth(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BERTH_BIN, ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
