/**
 * How long the traffic server waits on a client, and how many connections one address may hold.
 * Every field is optional at the edge; the router compiles them once, with the defaults below.
 */
export interface TrafficLimitOptions {
  /**
   * From a connection's start (or a request's first byte on a kept-alive connection) until the
   * whole header block is in: a slower client is answered 408 and closed (default 10 s).
   */
  readonly headersTimeoutMs?: number;
  /**
   * From a request's first byte until its whole body is in (default 5 min). The response is not
   * bounded: a stream or server-sent events may run as long as the app keeps it going.
   */
  readonly requestTimeoutMs?: number;
  /**
   * A kept-alive connection silent this long between requests is closed (default 65 s). It is
   * advertised in `Keep-Alive: timeout=`; node holds on one second longer, so the client closes.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Open connections one source address may hold; past it a new one is closed (default 256). */
  readonly maxConnectionsPerAddress?: number;
}

/** The limits as the traffic server uses them: every field set, checked, frozen. */
export interface CompiledTrafficLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnectionsPerAddress: number;
  /**
   * How often timeouts are checked: a tenth of the headers timeout, between 25 ms and 1 s, so
   * a slow client is closed within the timeout plus this. Node's own default (30 s) is what let
   * slow-header connections live for 34 s or more.
   */
  readonly checkIntervalMs: number;
}

/** A limit that cannot be used. */
export class TrafficLimitError extends Error {
  override readonly name = 'TrafficLimitError';
  readonly code = 'ROUTER_LIMIT_INVALID';
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen <= 0) {
    throw new TrafficLimitError(`${name} must be a positive whole number, not ${chosen}`);
  }
  return chosen;
}

/** Fills in the defaults and checks the limits once; the result is frozen. */
export function compileTrafficLimits(options: TrafficLimitOptions): CompiledTrafficLimits {
  // Longer than typical clients' idle pools and load balancers' (60 s), so the router is not
  // the side that closes an idle keep-alive connection as a request arrives on it.
  const keepAliveTimeoutMs = positive('keepAliveTimeoutMs', options.keepAliveTimeoutMs, 65_000);
  const headersTimeoutMs = positive('headersTimeoutMs', options.headersTimeoutMs, 10_000);
  const requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 300_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    // The headers are part of the request: node:http refuses this combination too.
    throw new TrafficLimitError(
      `requestTimeoutMs (${requestTimeoutMs}) must be at least headersTimeoutMs (${headersTimeoutMs})`,
    );
  }
  return Object.freeze({
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs,
    maxConnectionsPerAddress: positive(
      'maxConnectionsPerAddress',
      options.maxConnectionsPerAddress,
      256,
    ),
    checkIntervalMs: Math.min(1_000, Math.max(25, Math.floor(headersTimeoutMs / 10))),
  });
}

/** The defaults, as a compiled object. */
export const DEFAULT_TRAFFIC_LIMITS: CompiledTrafficLimits = compileTrafficLimits({});
