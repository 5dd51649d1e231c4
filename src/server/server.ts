import type { AddressInfo } from 'node:net';
import { buildApi } from '../api/index.js';
import { ChangeStream, WatcherHub } from '../changes/index.js';
import type { Logger } from '../logging/index.js';
import { openStore, type Store } from '../store/index.js';
import { redactDatabaseUrl, type ServerOptions } from './options.js';

/** A running controller. */
export interface RunningServer {
  readonly store: Store;
  readonly hub: WatcherHub;
  /** The API's address, with the port actually bound. */
  readonly apiUrl: string;
  /** Stops accepting requests, lets in-flight ones finish, stops the stream, closes the store. */
  close(): Promise<void>;
}

/**
 * The composition root: opens and migrates the store, starts the change stream and serves the
 * API. On any failure it releases what it had opened.
 */
export async function startServer(options: ServerOptions, logger: Logger): Promise<RunningServer> {
  const storeLabel = options.databaseUrl
    ? redactDatabaseUrl(options.databaseUrl)
    : `sqlite in ${options.dataDir}`;
  logger.info({ store: storeLabel, dataDir: options.dataDir }, 'opening the store');
  const store = await openStore({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    onListenerError: (error) =>
      logger.warn({ err: error }, 'lost the change notification connection; polling'),
  });
  const hub = new WatcherHub();
  const stream = new ChangeStream({ store, hub, logger });
  const api = buildApi({ store, logger });
  try {
    await stream.start();
    await api.listen({ host: options.listen.host, port: options.listen.port });
  } catch (error) {
    await api.close().catch(() => undefined);
    await stream.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw error;
  }
  const address = api.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const apiUrl = `http://${host}:${address.port}`;
  logger.info(
    { url: apiUrl, schemaVersion: store.schemaVersion, store: store.dialect },
    'berth server listening',
  );

  let closing: Promise<void> | undefined;
  return {
    store,
    hub,
    apiUrl,
    close: () =>
      (closing ??= (async () => {
        await api.close();
        await stream.stop();
        await store.close();
        logger.info('berth server stopped');
      })()),
  };
}
