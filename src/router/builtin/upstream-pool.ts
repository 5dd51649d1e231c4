import http from 'node:http';
import type { Socket } from 'node:net';
import type { Upstream } from '../route-table.js';

/** How long an upstream that refused a connection is passed over (passive health). */
export const REFUSED_BACKOFF_MS = 2_000;
/** Sockets kept per upstream: enough for a busy unit, bounded so one app cannot take them all. */
const SOCKETS_PER_UPSTREAM = 64;

/**
 * One upstream address with its keep-alive agent and in-flight count. It lives as long as it is
 * in the table or has requests in flight, whichever is longer.
 */
export interface UpstreamState {
  /** `host:port`, the key of /inflight. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly agent: http.Agent;
  inflight: number;
  /** Until when (Date.now()) to pass it over after a refused connection. */
  downUntil: number;
  /** Not in the serving table any more: its idle sockets are closed, its entry goes at 0. */
  retired: boolean;
}

/**
 * The upstreams the router talks to, keyed by `host:port`. Agents are reused across table swaps
 * for upstreams that stay, so a swap never costs the connections of units that keep running.
 */
export class UpstreamPool {
  readonly #states = new Map<string, UpstreamState>();

  /** The state for an upstream of the new table, reusing (and reviving) the existing one. */
  acquire(upstream: Upstream): UpstreamState {
    const key = `${upstream.host}:${upstream.port}`;
    let state = this.#states.get(key);
    if (state === undefined) {
      state = {
        key,
        host: upstream.host,
        port: upstream.port,
        agent: createAgent(),
        inflight: 0,
        downUntil: 0,
        retired: false,
      };
      const owner = state;
      // A socket released by a retired upstream's last requests is closed instead of kept.
      state.agent.on('free', (socket: Socket) => {
        if (owner.retired) socket.destroy();
      });
      this.#states.set(key, state);
    }
    state.retired = false;
    return state;
  }

  /** Retires every upstream not in `keep` (the new table's), closing their idle sockets now. */
  retireAllBut(keep: ReadonlySet<UpstreamState>): void {
    for (const state of this.#states.values()) {
      if (keep.has(state)) continue;
      state.retired = true;
      destroyIdleSockets(state.agent);
      this.#forgetIfDone(state);
    }
  }

  /** Counts a request that starts on an upstream. */
  begin(state: UpstreamState): void {
    state.inflight++;
  }

  /** Counts a request that ended on an upstream, whatever its outcome. */
  end(state: UpstreamState): void {
    state.inflight--;
    if (state.retired) this.#forgetIfDone(state);
  }

  /** Upstreams with requests in flight, in or out of the table: `{"host:port": count}`. */
  inflight(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const state of this.#states.values()) {
      if (state.inflight > 0) counts[state.key] = state.inflight;
    }
    return counts;
  }

  /** Total requests in flight to all upstreams. */
  totalInflight(): number {
    let total = 0;
    for (const state of this.#states.values()) total += state.inflight;
    return total;
  }

  /** Closes every socket of every upstream: the router is going away. */
  destroy(): void {
    for (const state of this.#states.values()) state.agent.destroy();
    this.#states.clear();
  }

  #forgetIfDone(state: UpstreamState): void {
    if (state.inflight > 0 || this.#states.get(state.key) !== state) return;
    this.#states.delete(state.key);
    destroyIdleSockets(state.agent);
  }
}

function createAgent(): http.Agent {
  return new http.Agent({
    keepAlive: true,
    maxSockets: SOCKETS_PER_UPSTREAM,
    maxFreeSockets: SOCKETS_PER_UPSTREAM,
    // The most recently used socket is the least likely to have been closed by the upstream's
    // own keep-alive timeout (Node's default there is 5 s).
    scheduling: 'lifo',
    keepAliveMsecs: 1_000,
    noDelay: true,
  });
}

/** Closes an agent's idle keep-alive sockets, leaving the ones in use alone. */
export function destroyIdleSockets(agent: http.Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}
