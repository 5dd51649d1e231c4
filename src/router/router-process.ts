import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/index.js';
import {
  CONTROL_SOCKET,
  isRouterAlive,
  processStat,
  readRouterPidFile,
  removeRouterPidFile,
} from './pid-file.js';
import { RouterClient } from './router-client.js';
import type { RouterHealth } from './route-table.js';

/** The router's output file in its directory; rotated once past ROUTER_LOG_LIMIT at a start. */
export const ROUTER_LOG = 'router.log';
const ROUTER_LOG_LIMIT = 10 * 1024 * 1024;
const START_TIMEOUT_MS = 15_000;

/** How the controller finds or starts the router of a data directory. */
export interface EnsureRouterOptions {
  /** The router's directory, `<data-dir>/router`. */
  readonly dir: string;
  /** The traffic address the router must have; port 0 accepts whatever port it has. */
  readonly listen: { readonly host: string; readonly port: number };
  readonly logger: Logger;
  /** The command that runs `berth router` for this directory and address, as an argv. */
  readonly command: { readonly execPath: string; readonly args: readonly string[] };
  /** How long a request on the control socket may take (ServerOptions.routerControlTimeoutMs). */
  readonly controlTimeoutMs: number;
}

/** The router could not be started; the message carries the end of its log. */
export class RouterStartError extends Error {
  override readonly name = 'RouterStartError';
  readonly code = 'ROUTER_START_FAILED';
}

/**
 * The router could not listen because another process holds its traffic address; the CLI names
 * the holder and the flag that moves the address.
 */
export class RouterAddressInUseError extends Error {
  override readonly name = 'RouterAddressInUseError';
  readonly code = 'ROUTER_ADDRESS_IN_USE';
  constructor(
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(`the router's address ${host}:${port} is already in use`, options);
  }
}

/** True when binding host:port fails with EADDRINUSE right now. */
function addressInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

function listenMatches(health: RouterHealth, wanted: EnsureRouterOptions['listen']): boolean {
  const expected = wanted.host.includes(':') ? `[${wanted.host}]` : wanted.host;
  const colon = health.listen.lastIndexOf(':');
  const host = health.listen.slice(0, colon);
  const port = Number(health.listen.slice(colon + 1));
  return host === expected && (wanted.port === 0 || port === wanted.port);
}

async function tail(file: string, lines = 20): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 16 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '(no log)';
  }
}

/** Keeps router.log bounded: a log past the limit moves to router.log.1 before a new start. */
async function rotateLog(file: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (info !== undefined && info.size > ROUTER_LOG_LIMIT) await rename(file, `${file}.1`);
}

/**
 * Makes sure the router of `dir` runs: a router that answers health on the control socket (and
 * listens where asked) is adopted as is, so a restarted controller never interrupts traffic;
 * otherwise a new one is started detached from this process, with its output appended to
 * router.log, and awaited until it answers. A router on another address is stopped first.
 */
export async function ensureRouterProcess(
  options: EnsureRouterOptions,
): Promise<{ adopted: boolean; pid: number; listen: string }> {
  const { dir, logger } = options;
  const client = new RouterClient({
    controlSocket: path.join(dir, CONTROL_SOCKET),
    timeoutMs: options.controlTimeoutMs,
  });
  const running = await client.health().catch(() => undefined);
  if (running !== undefined) {
    if (listenMatches(running, options.listen)) {
      return { adopted: true, pid: running.pid, listen: running.listen };
    }
    logger.warn(
      { listen: running.listen, wanted: options.listen },
      'the running router listens elsewhere; replacing it',
    );
    await stopRouterProcess(dir, { graceMs: 10_000 });
  }

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const logFile = path.join(dir, ROUTER_LOG);
  await rotateLog(logFile);
  const output = openSync(logFile, 'a', 0o600);
  let exited: string | undefined;
  try {
    const child = spawn(options.command.execPath, [...options.command.args], {
      detached: true,
      stdio: ['ignore', output, output],
    });
    child.once('error', (error) => (exited = error.message));
    child.once('exit', (code, signal) => (exited = `exited with ${signal ?? code}`));
    child.unref();
  } finally {
    closeSync(output);
  }

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && exited === undefined) {
    const health = await client.health().catch(() => undefined);
    // Not logged here: each caller says what the start meant (started, or running again).
    if (health !== undefined) return { adopted: false, pid: health.pid, listen: health.listen };
    await sleep(100);
  }
  const reason = exited ?? `did not answer within ${START_TIMEOUT_MS} ms`;
  const failure = new RouterStartError(
    `the router ${reason}; the end of ${logFile}:\n${await tail(logFile)}`,
  );
  // Asked, not parsed from its log: a router that exited while its port is taken could not bind.
  const { host, port } = options.listen;
  if (exited !== undefined && port !== 0 && (await addressInUse(host, port))) {
    throw new RouterAddressInUseError(host, port, { cause: failure });
  }
  throw failure;
}

/**
 * Stops the router of `dir` (for `berth down`): SIGTERM to the pid in router.pid, if that
 * process is still the router that wrote it (same start time), then SIGKILL after the grace.
 * Resolves false when no router was running.
 */
export async function stopRouterProcess(
  dir: string,
  options: { readonly graceMs: number },
): Promise<boolean> {
  const file = await readRouterPidFile(dir);
  if (file === undefined) return false;
  if (!isRouterAlive(file)) {
    await removeRouterPidFile(dir, file.pid);
    return false;
  }
  process.kill(file.pid, 'SIGTERM');
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline) {
    if (!isRouterAlive(file)) return true;
    await sleep(50);
  }
  if (processStat(file.pid)?.startTime === file.startTime) process.kill(file.pid, 'SIGKILL');
  while (isRouterAlive(file)) await sleep(20);
  // A killed router could not clean up after itself.
  await removeRouterPidFile(dir, file.pid);
  await rm(path.join(dir, CONTROL_SOCKET), { force: true });
  return true;
}
