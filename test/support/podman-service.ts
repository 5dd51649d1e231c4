// A private Podman service for tests: `podman system service --time=0 unix://<tmp>/podman.sock`,
// the Docker-compatible Engine API on a socket of its own, stopped at the end of the run.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface PodmanService {
  /** The socket path (not a URL), for BERTH_TEST_ENGINE_SOCKET and dockerode's socketPath. */
  readonly socket: string;
  /** Stops the service (SIGTERM, then SIGKILL after 5 s) and removes its temp dir. */
  stop(): Promise<void>;
}

/** The podman binary on PATH, if there is one. */
export function findPodman(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, 'podman');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Whether the Engine API answers GET /_ping on `socket`. */
function pings(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath: socket, path: '/_ping', timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts the service and waits until it answers a ping (up to `readyMs`, default 20 s). Throws
 * with the service's log when it exits or stays silent.
 */
export async function startPodmanService(
  options: { podman?: string; readyMs?: number; dir?: string } = {},
): Promise<PodmanService> {
  const podman = options.podman ?? findPodman();
  if (!podman) throw new Error('podman is not installed (apt-get install -y podman runc)');
  // A dir of the caller's: a service started again there answers on the same socket path.
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'berth-podman-'));
  const socket = path.join(dir, 'podman.sock');
  const logFile = path.join(dir, 'service.log');
  const log = openSync(logFile, 'a');
  const child = spawn(podman, ['system', 'service', '--time=0', `unix://${socket}`], {
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const stop = async () => {
    if (!(await exited(child, 0))) {
      child.kill('SIGTERM');
      if (!(await exited(child, 5000))) {
        child.kill('SIGKILL');
        await exited(child, 2000);
      }
    }
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    else rmSync(socket, { force: true });
  };
  const deadline = Date.now() + (options.readyMs ?? 20_000);
  while (!(await pings(socket))) {
    const gone = child.exitCode !== null || child.signalCode !== null;
    if (gone || Date.now() > deadline) {
      const output = readFileSync(logFile, 'utf8').trim().split('\n').slice(-20).join('\n');
      await stop();
      throw new Error(
        `podman system service on ${socket} ${gone ? 'exited' : 'did not answer a ping in time'}` +
          `:\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { socket, stop };
}
