import { setTimeout as sleep } from 'node:timers/promises';
import {
  POSTGRES_SUPERUSER,
  postgresAccepts,
  quotedName,
  scramVerifier,
  type ServerAddress,
} from '../addon-clients.js';
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

/** SQLSTATE invalid_password: how a login without a password is refused. */
const INVALID_PASSWORD = '28P01';

/**
 * One try at a new cluster, as its superuser on `template1`, in one transaction: makes the
 * add-on's role (its password as a SCRAM verifier), renames the database initdb made
 * (`postgres`) to the add-on's, which is a catalog update where CREATE DATABASE would copy
 * template1 and fsync it (~150 ms), gives the role that database, and takes the superuser's
 * password away. Resolves true once the add-on's role logs in on its database (also when a
 * try's answer was lost after it committed), false while the server refuses.
 */
export async function claimPostgresCluster(
  address: ServerAddress,
  superuserPassword: string,
  credentials: AddonCredentials,
): Promise<boolean> {
  // Loaded here: a server without PostgreSQL add-ons or a PostgreSQL store never loads pg.
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: address.host,
    port: address.port,
    user: POSTGRES_SUPERUSER,
    password: superuserPassword,
    database: 'template1',
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    // The superuser has no password any more: an earlier try committed.
    if ((error as { code?: unknown }).code === INVALID_PASSWORD) {
      return postgresAccepts(address, credentials, false);
    }
    return false;
  }
  try {
    const role = quotedName(credentials.user);
    const database = quotedName(credentials.database);
    const verifier = scramVerifier(credentials.password);
    await client.query(
      [
        `CREATE ROLE ${role} LOGIN PASSWORD '${verifier}'`,
        ...(credentials.database === 'postgres'
          ? []
          : [`ALTER DATABASE postgres RENAME TO ${database}`]),
        `ALTER DATABASE ${database} OWNER TO ${role}`,
        `ALTER ROLE ${quotedSuperuser()} PASSWORD NULL`,
      ].join('; '),
    );
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function quotedSuperuser(): string {
  return `"${POSTGRES_SUPERUSER}"`;
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
