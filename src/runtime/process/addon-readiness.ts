import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerAddress } from '../addon-clients.js';
import type { AddonCredentials, AddonKind } from '../addons.js';

/** How long a server may take to accept connections after it was started. */
export const READY_TIMEOUT_MS = 60_000;

/**
 * How often a starting server is asked. A refused connection on loopback costs a tenth of a
 * millisecond, and redis-server starts in ~10 ms, so it is asked often; PostgreSQL starts in
 * hundreds, and each try loads a client, so it is asked less.
 */
export const READY_POLL_MS: Readonly<Record<AddonKind, number>> = Object.freeze({
  redis: 2,
  postgres: 5,
});

/** SQLSTATE invalid_catalog_name: the database named does not exist. */
const NO_SUCH_DATABASE = '3D000';

/**
 * One try at a new cluster, as the add-on's role: on `template1`, it renames the database
 * initdb made (`postgres`) to the add-on's, which is a catalog update where CREATE DATABASE
 * would copy template1 and fsync it (~150 ms); the one connection that succeeds does it.
 * Resolves true once the database exists under its name, false while the server refuses.
 */
export async function claimPostgresDatabase(
  address: ServerAddress,
  credentials: AddonCredentials,
): Promise<boolean> {
  // Loaded here: a server without PostgreSQL add-ons or a PostgreSQL store never loads pg.
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: address.host,
    port: address.port,
    user: credentials.user,
    password: credentials.password,
    database: credentials.database === 'postgres' ? 'postgres' : 'template1',
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return false;
  }
  try {
    if (credentials.database !== 'postgres') {
      // Names are the add-on's, made of [a-z0-9_]; quoted all the same.
      await client.query(
        `ALTER DATABASE postgres RENAME TO "${credentials.database.replace(/"/g, '""')}"`,
      );
    }
    return true;
  } catch (error) {
    // A try whose answer was lost after the rename committed (the server crashed): done.
    if ((error as { code?: unknown }).code === NO_SUCH_DATABASE) {
      const { rows } = await client.query<{ found: boolean }>(
        'SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1) AS found',
        [credentials.database],
      );
      if (rows[0]?.found === true) return true;
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Polls until `accepts` resolves true; rejects after READY_TIMEOUT_MS. The first try is at
 * once: a server handed to a booted supervisor may be up before the start returned.
 */
export async function untilAccepting(
  accepts: () => Promise<boolean>,
  pollMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new Error(`${describe()} within ${READY_TIMEOUT_MS / 1000} s`);
    }
    await sleep(pollMs);
  }
}
