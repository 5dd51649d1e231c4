// Runs `bin/berth.js server` as a child process, as a user would, on free ports: the test side
// of berth-server.ts, which also ends the server and its data plane when the test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { stopDataPlane } from '../../src/server/index.js';
import { testUnitPorts } from './api.js';
import { BERTH_BIN, startBerthServer } from './berth-server.js';

export { BERTH_BIN };

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Where the router answers (apps by Host header). */
  readonly routerUrl: string;
  /** Every log line so far, parsed. */
  readonly logs: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /** Sends the signal and resolves with the exit code; the data plane keeps running. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `berth server ARGS` (which must name --data-dir) with the test run's BERTH_* settings
 * and a unit port range of its own. When the test file ends, the server is killed if it still
 * runs and its data plane is stopped.
 */
export async function startServerProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const at = args.indexOf('--data-dir');
  const dataDir = at === -1 ? undefined : args[at + 1];
  if (dataDir === undefined) throw new Error('startServerProcess needs --data-dir DIR');
  const rest = [...args.slice(0, at), ...args.slice(at + 2)];
  const server = await startBerthServer({
    dataDir,
    args: rest,
    env: { BERTH_UNIT_PORTS: testUnitPorts(), ...env },
    inheritBerthEnv: true,
  });
  after(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
    }
    // The data plane outlives the controller by design; the test ends it.
    await stopDataPlane(dataDir, 1000);
  });
  return server;
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

/** An API answer as the tests of separate server processes read it. */
export interface ApiReply {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
}

/**
 * One request to a server process's API as `token`: a Buffer body goes as a tar.gz bundle,
 * any other body as JSON.
 */
export async function callApi(
  url: string,
  token: string,
  method: string,
  pathname: string,
  body?: Buffer | object,
): Promise<ApiReply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let payload: string | Buffer | undefined;
  if (Buffer.isBuffer(body)) {
    headers['content-type'] = 'application/gzip';
    payload = body;
  } else if (body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(`${url}/api/v1${pathname}`, {
    method,
    headers,
    ...(payload ? { body: payload } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}
