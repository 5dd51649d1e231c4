// Fresh PostgreSQL databases for benchmarks: on BERTH_TEST_DATABASE_URL's server when it is
// set, else on a private cluster started for the run, so a bench needs no PostgreSQL setup.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startPostgresCluster } from '../test/support/postgres-cluster.js';

/** A PostgreSQL server on which a benchmark may create databases. */
export interface PostgresServer {
  /** Runs `work` on a fresh database, dropped afterwards, also on failure. */
  withDatabase<T>(work: (databaseUrl: string) => Promise<T>): Promise<T>;
}

async function onAdmin(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function serverAt(adminUrl: string): PostgresServer {
  return {
    async withDatabase(work) {
      const name = `berth_bench_${randomBytes(6).toString('hex')}`;
      await onAdmin(adminUrl, `CREATE DATABASE ${name}`);
      try {
        const url = new URL(adminUrl);
        url.pathname = `/${name}`;
        return await work(url.toString());
      } finally {
        // FORCE: a server process killed mid-run may leave its connections behind.
        await onAdmin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    },
  };
}

/**
 * Runs `work` with BERTH_TEST_DATABASE_URL's server, or else with a private cluster that is
 * stopped afterwards, also on failure.
 */
export async function withPostgresServer<T>(
  work: (server: PostgresServer) => Promise<T>,
): Promise<T> {
  const fromEnv = process.env['BERTH_TEST_DATABASE_URL'];
  if (fromEnv) return work(serverAt(fromEnv));
  const cluster = await startPostgresCluster();
  try {
    return await work(serverAt(cluster.adminUrl));
  } finally {
    cluster.stop();
  }
}
