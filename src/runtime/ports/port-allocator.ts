import net from 'node:net';

/** The ports units get, inclusive. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** Whether something may listen on host:port right now (we listen briefly to find out). */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Hands out ports of a range: one no known unit holds and that can be bound now. It starts
 * after the last port it gave, so a port freed a moment ago (its unit may still be closing
 * it) is the last to be given again.
 */
export class PortAllocator {
  readonly #range: PortRange;
  readonly #host: string;
  /** Given out but not yet in a record: a concurrent start() must not take them. */
  readonly #pending = new Set<number>();
  #next: number;

  constructor(range: PortRange, host: string) {
    if (!(range.from >= 1 && range.to <= 65_535 && range.from <= range.to)) {
      throw new Error(`the port range ${range.from}–${range.to} is not valid`);
    }
    this.#range = range;
    this.#host = host;
    this.#next = range.from;
  }

  /** A free port, reserved until release(); throws when the range has none. */
  async allocate(taken: ReadonlySet<number>): Promise<number> {
    const size = this.#range.to - this.#range.from + 1;
    for (let tried = 0; tried < size; tried++) {
      const port = this.#next;
      this.#next = port >= this.#range.to ? this.#range.from : port + 1;
      if (taken.has(port) || this.#pending.has(port)) continue;
      this.#pending.add(port);
      if (await canBind(this.#host, port)) return port;
      this.#pending.delete(port);
    }
    throw new Error(`no free port in ${this.#range.from}–${this.#range.to} on ${this.#host}`);
  }

  /** Ends a reservation: the port is now in a record, or the start failed. */
  release(port: number): void {
    this.#pending.delete(port);
  }
}
