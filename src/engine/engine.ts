import { stat } from 'node:fs/promises';
import type Docker from 'dockerode';
import { ErrorCodes, UnavailableError } from '../errors/index.js';

/** The Docker Engine API client Berth uses (dockerode). */
export type Engine = Docker;

/** Where to find the engine. */
export interface EngineOptions {
  /**
   * A socket path or a `unix://` URL (`--engine-socket`). When absent, DOCKER_HOST (unix only),
   * then the usual sockets of Docker and of Podman's service are tried, in that order.
   */
  readonly socket?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** How long one API call may take before it fails; default 5 minutes (builds are long). */
  readonly timeoutMs?: number;
}

/** An engine that answered a ping, and what it says it is. */
export interface EngineConnection {
  readonly engine: Engine;
  readonly socket: string;
  /** e.g. 'Docker Engine - Community 27.1' or 'Podman Engine 4.3.1'. */
  readonly product: string;
  readonly apiVersion: string;
}

/** No engine answers where Berth looked; the message says where and how to start one. */
export class EngineUnavailableError extends UnavailableError {
  override readonly name = 'EngineUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, ErrorCodes.RUNTIME_UNAVAILABLE);
  }
}

/** The sockets tried when nothing names one, most specific first. */
export function defaultSocketCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const runtimeDir = env['XDG_RUNTIME_DIR'] || `/run/user/${uid}`;
  return [
    '/var/run/docker.sock',
    '/run/podman/podman.sock',
    `${runtimeDir}/podman/podman.sock`,
    `${runtimeDir}/docker.sock`,
  ];
}

function socketPathOf(value: string): string {
  if (value.startsWith('unix://')) return value.slice('unix://'.length);
  if (value.includes('://')) {
    throw new EngineUnavailableError(
      `the engine socket must be a unix socket path or unix:// URL, got '${value}'`,
    );
  }
  return value;
}

async function isSocket(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isSocket() ?? false;
}

/** The engine socket to use: the one named, else DOCKER_HOST, else the first that exists. */
export async function findEngineSocket(options: EngineOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const named = options.socket || env['DOCKER_HOST'];
  if (named) return socketPathOf(named);
  const candidates = defaultSocketCandidates(env);
  for (const candidate of candidates) if (await isSocket(candidate)) return candidate;
  throw new EngineUnavailableError(
    `no container engine socket found (tried ${candidates.join(', ')}); start Docker, or ` +
      `Podman's service ('podman system service --time=0 unix:///run/podman/podman.sock'), ` +
      `or name the socket with --engine-socket`,
  );
}

/** Connects to the engine and pings it; EngineUnavailableError says what failed and where. */
export async function connectEngine(options: EngineOptions = {}): Promise<EngineConnection> {
  const socket = await findEngineSocket(options);
  // Loaded here, not at the top: a controller on the process runtime never needs dockerode
  // (some 20 MB resident), and nothing else of Berth constructs it.
  const { default: DockerClient } = await import('dockerode');
  const engine = new DockerClient({ socketPath: socket, timeout: options.timeoutMs ?? 300_000 });
  try {
    await engine.ping();
    const version = await engine.version();
    const product =
      version.Components?.map((part) => `${part.Name} ${part.Version}`).find(Boolean) ??
      `Docker Engine ${version.Version}`;
    return { engine, socket, product, apiVersion: version.ApiVersion };
  } catch (error) {
    throw new EngineUnavailableError(
      `the container engine at ${socket} does not answer: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The HTTP status of a failed engine call (404 no such object, 409 conflict), if it has one. */
export function engineErrorStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Socket errors that mean the engine is not there (stopped, restarting, socket removed). */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

/** Whether a failed engine call failed because the engine does not answer at all. */
export function isEngineUnreachable(error: unknown): boolean {
  if (error instanceof EngineUnavailableError) return true;
  for (let cause: unknown = error; cause; cause = (cause as { cause?: unknown }).cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (cause instanceof AggregateError && cause.errors.some(isEngineUnreachable)) return true;
  }
  return false;
}

/** Whether the engine has an image by this name or id (never pulls). */
export async function imageExists(engine: Engine, ref: string): Promise<boolean> {
  try {
    await engine.getImage(ref).inspect();
    return true;
  } catch (error) {
    if (engineErrorStatus(error) === 404) return false;
    throw error;
  }
}
