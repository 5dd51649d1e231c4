import pg from 'pg';

export interface ChangeNotificationListenerOptions {
  readonly connectionString: string;
  readonly channel: string;
  readonly onNotify: () => void;
  readonly onError: (error: Error) => void;
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * Holds one dedicated connection in LISTEN on the change channel and reconnects when it drops.
 * It is a wake-up only: a missed notification delays a change until the next poll, never
 * loses it. After a reconnect it fires once, since notifications may have been missed.
 */
export class ChangeNotificationListener {
  readonly #options: ChangeNotificationListenerOptions;
  #client: pg.Client | undefined;
  #started: Promise<void> | undefined;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = RECONNECT_MIN_MS;

  constructor(options: ChangeNotificationListenerOptions) {
    this.#options = options;
  }

  /** Connects once; later calls share the first attempt. Reconnects run in the background. */
  start(): Promise<void> {
    this.#started ??= this.#connect().catch((error: unknown) => {
      this.#scheduleReconnect(error);
    });
    return this.#started;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.connectionString });
    client.on('notification', () => this.#options.onNotify());
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('LISTEN connection ended')));
    await client.connect();
    await client.query(`LISTEN ${this.#options.channel}`);
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#retryDelay = RECONNECT_MIN_MS;
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#stopped || this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.#scheduleReconnect(error);
  }

  #scheduleReconnect(error: unknown): void {
    if (this.#stopped || this.#retryTimer) return;
    this.#options.onError(error instanceof Error ? error : new Error(String(error)));
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, RECONNECT_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect()
        .then(() => this.#options.onNotify())
        .catch((err: unknown) => this.#scheduleReconnect(err));
    }, delay);
    this.#retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
