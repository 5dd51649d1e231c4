import path from 'node:path';
import { Lifecycle, type LifecycleState } from '../lifecycle/index.js';
import type { Logger } from '../logging/index.js';
import { CONTROL_SOCKET } from './pid-file.js';
import { RouterClient } from './router-client.js';
import { ensureRouterProcess, type EnsureRouterOptions } from './router-process.js';

/** How the controller watches its router. */
export interface RouterWatchOptions extends EnsureRouterOptions {
  /** Time between health checks (the controller's: ServerOptions.routerWatchIntervalMs). */
  readonly intervalMs: number;
}

/**
 * Keeps the router running while the controller runs: checks its health every couple of
 * seconds and starts it again (ensureRouterProcess) when it is gone. The router restarts with
 * the table it saved, so routes come back with it. Follows src/lifecycle.
 */
export class RouterWatch {
  readonly #options: RouterWatchOptions;
  readonly #logger: Logger;
  readonly #lifecycle = new Lifecycle('router watch');
  readonly #client: RouterClient;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;

  constructor(options: RouterWatchOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'router-watch' });
    this.#client = new RouterClient({
      controlSocket: path.join(options.dir, CONTROL_SOCKET),
      timeoutMs: options.controlTimeoutMs,
    });
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** Starts watching; the router itself is started by ensureRouterProcess beforehand. */
  start(): void {
    this.#lifecycle.transition('starting');
    this.#timer = setInterval(() => {
      // A check still running (a router starting up) is not overlapped by the next one.
      this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    }, this.#options.intervalMs);
    this.#timer.unref();
    this.#lifecycle.transition('running');
  }

  /** Stops watching (the router keeps running: it outlives the controller by design). */
  async stop(): Promise<void> {
    if (this.#lifecycle.state !== 'running') return;
    this.#lifecycle.transition('stopping');
    clearInterval(this.#timer);
    await this.#checking;
    this.#lifecycle.transition('stopped');
  }

  async #check(): Promise<void> {
    const signal = this.#lifecycle.signal;
    try {
      await this.#client.health();
      return;
    } catch (error) {
      if (signal.aborted) return;
      this.#logger.warn({ reason: (error as Error).message }, 'the router is gone; starting it');
    }
    try {
      const { pid } = await ensureRouterProcess(this.#options);
      this.#logger.info({ pid }, 'the router runs again');
    } catch (error) {
      this.#logger.error({ err: error }, 'could not start the router; will try again');
    }
  }
}
