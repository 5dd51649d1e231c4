import net from 'node:net';

/** The ports units get, inclusive. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/**
 * The ports units hold on this host, as every controller of the host sees them (the store's
 * `unit_ports`, through the data-plane service; bound there to this host and this runtime's
 * root). Without it an allocator knows only its own units, which is enough for one controller
 * but not for two: each would check a port is free and hand it out, and both could hand out
 * the same one before either unit listened.
 */
export interface PortClaims {
  /** The ports of the range that any runtime on this host has claimed. */
  claimed(range: PortRange): Promise<ReadonlySet<number>>;
  /** Claims `port` for `unitId`; false when the host already has a claim on it. */
  claim(port: number, unitId: string): Promise<boolean>;
  /**
   * Lets go of the unit's claim of `port`, or of all its claims without one: the unit was
   * stopped, or its start on that port failed (another start of the same id, say by another
   * controller on the same root, may hold a claim of its own).
   */
  release(unitId: string, port?: number): Promise<void>;
  /** Claims what this runtime's units (id → port) hold without a claim: once, at init. */
  adopt(units: ReadonlyMap<string, number>): Promise<void>;
  /** Takes back this runtime's stale claims of units that are not among `units` any more. */
  reclaim(units: ReadonlyMap<string, number>): Promise<void>;
}

export interface PortAllocatorOptions {
  /** Where units are reached, for messages; the bind check covers every address. */
  readonly host: string;
  /** The host's claims; without them, ports are kept apart within this process only. */
  readonly claims?: PortClaims | undefined;
}

/** Errors of a listen that say the address family is missing, not that the port is taken. */
const NO_SUCH_FAMILY = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

function tryListen(host: string, port: number): Promise<'free' | 'taken' | 'no-family'> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(NO_SUCH_FAMILY.has(error.code ?? '') ? 'no-family' : 'taken'),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve('free')));
  });
}

/**
 * Whether a unit could listen on `port` right now, whatever address it binds. Apps bind the
 * wildcard (`::`, Node's default without a host) as often as the loopback the router reaches
 * them on, and a wildcard listener collides with any holder of the port, so the check binds
 * the dual-stack wildcard, or 0.0.0.0 on a host without IPv6.
 */
async function canBind(port: number): Promise<boolean> {
  const wildcard = await tryListen('::', port);
  if (wildcard !== 'no-family') return wildcard === 'free';
  return (await tryListen('0.0.0.0', port)) === 'free';
}

/**
 * Hands out ports of a range: one no unit of this host holds, claimed for the unit in the
 * host's claims (when there are claims), and that can be bound now. It starts after the last
 * port it gave, so a port freed a moment ago (its unit may still be closing it) is the last to
 * be given again. A port something outside Berth holds fails the bind check and is skipped.
 */
export class PortAllocator {
  readonly #range: PortRange;
  readonly #host: string;
  readonly #claims: PortClaims | undefined;
  /** Given out but not yet in a record: a concurrent start() must not take them. */
  readonly #pending = new Set<number>();
  #next: number;

  constructor(range: PortRange, options: PortAllocatorOptions) {
    if (!(range.from >= 1 && range.to <= 65_535 && range.from <= range.to)) {
      throw new Error(`the port range ${range.from}–${range.to} is not valid`);
    }
    this.#range = range;
    this.#host = options.host;
    this.#claims = options.claims;
    this.#next = range.from;
  }

  /**
   * A free port for `unitId`, reserved until release() and claimed until unclaim(); throws
   * when the range has none. `units` are this runtime's units now (id → port).
   */
  async allocate(unitId: string, units: ReadonlyMap<string, number>): Promise<number> {
    const claims = this.#claims;
    let claimed: ReadonlySet<number> = new Set();
    if (claims) {
      await claims.reclaim(units);
      claimed = await claims.claimed(this.#range);
    }
    const taken = new Set(units.values());
    const size = this.#range.to - this.#range.from + 1;
    for (let tried = 0; tried < size; tried++) {
      const port = this.#next;
      this.#next = port >= this.#range.to ? this.#range.from : port + 1;
      if (taken.has(port) || this.#pending.has(port) || claimed.has(port)) continue;
      this.#pending.add(port);
      // Lost to another controller's allocation since `claimed` was read: try the next one.
      if (claims && !(await claims.claim(port, unitId))) {
        this.#pending.delete(port);
        continue;
      }
      if (await canBind(port)) return port;
      this.#pending.delete(port);
      await claims?.release(unitId, port);
    }
    throw new Error(`no free port in ${this.#range.from}–${this.#range.to} on ${this.#host}`);
  }

  /**
   * Claims the ports of units started before this host kept claims (or while the store was
   * away), so that no other runtime of the host hands them out. Drivers call it at init,
   * before they start or stop anything.
   */
  async adopt(units: ReadonlyMap<string, number>): Promise<void> {
    await this.#claims?.adopt(units);
  }

  /** Ends a reservation: the port is now in a record, or the start failed. */
  release(port: number): void {
    this.#pending.delete(port);
  }

  /**
   * Lets go of the unit's claim of `port` (its start failed), or of all its claims (it is
   * stopped). A store that does not answer is not the stop's failure: the claim is left, and a
   * later allocation takes it back once it is stale (the unit is no longer listed).
   */
  async unclaim(unitId: string, port?: number): Promise<void> {
    await this.#claims?.release(unitId, port).catch(() => undefined);
  }
}
