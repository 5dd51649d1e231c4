import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { SQLITE_FILE } from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations/index.js';
import { backends, createTestDatabase } from '../support/databases.js';
import { reopenStore } from '../support/stores.js';
import { runBerth, startServerProcess } from '../support/server-process.js';

for (const backend of backends) {
  describe(`berth server on ${backend}`, () => {
    it('creates and migrates the store, answers health, and stops cleanly on SIGTERM and SIGINT', async () => {
      const location = await createTestDatabase(backend);
      try {
        const args = ['--data-dir', location.dataDir];
        const env = location.databaseUrl ? { BERTH_DATABASE_URL: location.databaseUrl } : {};
        const server = await startServerProcess(args, env);
        const response = await fetch(`${server.url}/api/v1/health`);
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), {
          status: 'ok',
          store: backend,
          schemaVersion: migrations.at(-1)?.version,
        });
        if (backend === 'sqlite') assert.ok(existsSync(path.join(location.dataDir, SQLITE_FILE)));
        assert.equal(await server.stop('SIGTERM'), 0);
        assert.ok(server.logs.some((l) => l['msg'] === 'berth server stopped'));

        const again = await startServerProcess(args, env);
        assert.equal((await fetch(`${again.url}/api/v1/health`)).status, 200);
        assert.equal(await again.stop('SIGINT'), 0);
      } finally {
        await location.drop();
      }
    });

    it('refuses, with one clear line, a store whose schema was altered', async () => {
      const location = await createTestDatabase(backend);
      try {
        const store = await reopenStore(location);
        await sql`CREATE TABLE intruder (id TEXT)`.execute(store.db);
        await store.close();
        const env = location.databaseUrl ? { BERTH_DATABASE_URL: location.databaseUrl } : {};
        const result = await runBerth(
          ['server', '--data-dir', location.dataDir, '--listen', '127.0.0.1:0'],
          env,
        );
        assert.equal(result.code, 1);
        assert.match(
          result.stderr,
          /^berth: the store's schema .* was changed outside Berth's migrations/m,
        );
      } finally {
        await location.drop();
      }
    });
  });
}

describe('berth server options', () => {
  it('never logs the database password', async () => {
    const location = await createTestDatabase('postgres');
    try {
      const url = new URL(location.databaseUrl!);
      url.password = 'hunter2-secret';
      const server = await startServerProcess([
        '--data-dir',
        location.dataDir,
        '--database-url',
        url.toString(),
      ]);
      assert.equal(await server.stop(), 0);
      assert.ok(!JSON.stringify(server.logs).includes('hunter2-secret'));
    } finally {
      await location.drop();
    }
  });

  for (const [args, message] of [
    [['--listen', 'nowhere'], /--listen must be HOST:PORT/],
    [['--listen', '127.0.0.1:70000'], /--listen must be HOST:PORT/],
    [['--runtime', 'vm'], /--runtime must be one of process, container, kubernetes/],
    [['--database-url', 'mysql://x@y/z'], /--database-url must be a postgres:\/\/ URL/],
    [['--domain', 'not a domain'], /--domain 'not a domain' is not a valid DNS name/],
    [['--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    it(`rejects ${args.join(' ')} with exit code 2 and one line`, async () => {
      const result = await runBerth(['server', ...args]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    });
  }

  it('reads flags from BERTH_* environment variables', async () => {
    const result = await runBerth(['server'], { BERTH_LISTEN: 'bad' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--listen must be HOST:PORT .* got 'bad'/);
  });
});
