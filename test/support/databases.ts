// Test databases on both backends: a fresh SQLite data dir, or a fresh database on the test
// PostgreSQL server (BERTH_TEST_DATABASE_URL, set by scripts/run-tests.ts, else a private
// cluster started for this test file).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stopDataPlane } from '../../src/server/index.js';
import { startPostgresCluster, type PostgresCluster } from './postgres-cluster.js';

export const backends = ['sqlite', 'postgres'] as const;
export type Backend = (typeof backends)[number];

/** Where a test's store lives: always a data dir, plus a database URL on PostgreSQL. */
export interface TestDatabase {
  readonly backend: Backend;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** Drops the database and removes the data dir. */
  drop(): Promise<void>;
}

let cluster: Promise<PostgresCluster> | undefined;

async function adminUrl(): Promise<string> {
  const fromEnv = process.env['BERTH_TEST_DATABASE_URL'];
  if (fromEnv) return fromEnv;
  if (!cluster) {
    const starting = startPostgresCluster();
    cluster = starting;
    // Not after(): called inside a test, that would stop the cluster when the test ends.
    starting.then(
      (c) => process.once('exit', () => c.stop()),
      () => undefined,
    );
  }
  return (await cluster).adminUrl;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Removes a data dir, first stopping the router and units a server left running in it (the
 * data plane outlives controllers by design, so a test must end it).
 */
async function removeDataDir(dataDir: string): Promise<void> {
  // Tests may run a second controller with its own data dir inside this one.
  const nested = readdirSync(dataDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(dataDir, entry.name, 'runtime')))
    .map((entry) => path.join(dataDir, entry.name));
  for (const dir of [...nested, dataDir]) await stopDataPlane(dir, 1000).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
}

/** Creates an empty store location for one test. */
export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  if (backend === 'sqlite') {
    return {
      backend,
      dataDir,
      databaseUrl: undefined,
      drop: () => removeDataDir(dataDir),
    };
  }
  const name = `berth_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(await adminUrl());
  url.pathname = `/${name}`;
  return {
    backend,
    dataDir,
    databaseUrl: url.toString(),
    async drop() {
      await removeDataDir(dataDir);
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
