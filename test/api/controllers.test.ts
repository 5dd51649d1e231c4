import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backends, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { nodeApp, tarGzBundle } from '../support/bundles.js';
import {
  callApi as call,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process.js';

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

function serverArgs(
  location: TestDatabase,
  dataDir = location.dataDir,
): [string[], NodeJS.ProcessEnv] {
  return [
    ['--data-dir', dataDir],
    location.databaseUrl ? { BERTH_DATABASE_URL: location.databaseUrl } : {},
  ];
}

describe('two controllers on one PostgreSQL', () => {
  it('race on many tasks: each task runs on exactly one controller, and both take some', async () => {
    const location = await createTestDatabase('postgres');
    const servers: ServerProcess[] = [];
    try {
      // Controllers of one store share its master key.
      const env = {
        BERTH_DATABASE_URL: location.databaseUrl ?? '',
        BERTH_TEST_DEPLOY_STEP_DELAY_MS: '20',
        BERTH_MASTER_KEY: randomBytes(32).toString('base64'),
      };
      servers.push(await startServerProcess(['--data-dir', location.dataDir], env));
      servers.push(
        await startServerProcess(['--data-dir', path.join(location.dataDir, 'second')], env),
      );
      const token = readFileSync(path.join(location.dataDir, 'initial-admin-token'), 'utf8').trim();
      const [a, b] = servers.map((s) => s.url) as [string, string];
      const bundle = await tarGzBundle(nodeApp);
      const apps = Array.from({ length: 24 }, (_, i) => `race${i}`);
      for (const [i, app] of apps.entries()) {
        assert.equal(
          (await call(i % 2 ? a : b, token, 'POST', '/apps', { name: app })).status,
          201,
        );
      }
      await Promise.all(
        apps.map(async (app, i) => {
          const queued = await call(i % 2 ? b : a, token, 'POST', `/deployments/${app}`, bundle);
          assert.equal(queued.status, 202, JSON.stringify(queued.body));
        }),
      );
      const claimers = new Map<string, number>();
      for (const app of apps) {
        const record = await waitFor(`${app} to finish`, 60_000, async () => {
          const r = await call(a, token, 'GET', `/deployments/${app}`);
          return r.status === 200 ? r.body : undefined;
        });
        assert.equal(record['status'], 'succeeded', JSON.stringify(record));
        const detail = await call(
          b,
          token,
          'GET',
          `/apps/${app}/deployments/${String(record['id'])}`,
        );
        const claims = [
          ...String(detail.body?.['log']).matchAll(/claimed by controller (\S+)/g),
        ].map((m) => m[1] ?? '');
        assert.equal(claims.length, 1, `${app} was claimed once: ${claims.join(', ')}`);
        claimers.set(claims[0]!, (claimers.get(claims[0]!) ?? 0) + 1);
        const releases = await call(a, token, 'GET', `/apps/${app}/releases`);
        assert.equal(
          (releases.body as unknown as unknown[]).length,
          1,
          `${app} has exactly one release`,
        );
      }
      assert.equal(
        claimers.size,
        2,
        `both controllers claimed tasks: ${JSON.stringify([...claimers])}`,
      );
    } finally {
      for (const s of servers) await s.stop('SIGTERM');
      await location.drop();
    }
  });
});

for (const backend of backends) {
  describe(`a controller killed mid-task on ${backend}`, () => {
    it('ends the task failed within a lease period, and leaves the running release untouched', async () => {
      const location = await createTestDatabase(backend);
      const [args, env] = serverArgs(location);
      const tuning = {
        ...env,
        BERTH_DEPLOY_LEASE_MS: '1500',
        BERTH_TEST_DEPLOY_STEP_DELAY_MS: '300',
      };
      let server = await startServerProcess(args, tuning);
      try {
        const token = readFileSync(
          path.join(location.dataDir, 'initial-admin-token'),
          'utf8',
        ).trim();
        await call(server.url, token, 'POST', '/apps', { name: 'steady' });
        await call(server.url, token, 'POST', '/deployments/steady', await tarGzBundle(nodeApp));
        await waitFor('v1', 20_000, async () =>
          (await call(server.url, token, 'GET', '/deployments/steady')).status === 200
            ? true
            : undefined,
        );

        const slow = { ...tuning, BERTH_TEST_DEPLOY_STEP_DELAY_MS: '5000' };
        await server.stop('SIGTERM');
        server = await startServerProcess(args, slow);
        const queued = await call(
          server.url,
          token,
          'POST',
          '/deployments/steady',
          await tarGzBundle({ ...nodeApp, 'server.js': '// v2\n' }),
        );
        assert.equal(queued.status, 202);
        await waitFor('the task to run', 10_000, async () => {
          const detail = await call(
            server.url,
            token,
            'GET',
            `/apps/steady/deployments/${String(queued.body?.['id'])}`,
          );
          return detail.body?.['status'] === 'running' ? true : undefined;
        });
        assert.equal(await server.stop('SIGKILL'), null);
        server = await startServerProcess(args, tuning);
        const restartedAt = Date.now();
        const record = await waitFor('the abandoned task to fail', 10_000, async () => {
          const r = await call(server.url, token, 'GET', '/deployments/steady');
          return r.status === 200 ? r.body : undefined;
        });
        const elapsed = Date.now() - restartedAt;
        assert.equal(record['status'], 'failed');
        assert.equal(record['release'], null);
        assert.match(
          String((record['details'] as { error: string }).error),
          /^controller stopped during validate$/,
        );
        // The lease (1.5 s) had at most that long to run after the kill; the sweep runs every 0.75 s.
        assert.ok(elapsed < 1500 + 1500, `failed ${elapsed} ms after the new controller started`);
        const releases = (await call(server.url, token, 'GET', '/apps/steady/releases'))
          .body as unknown as Array<{ version: number }>;
        assert.deepEqual(
          releases.map((r) => r.version),
          [1],
          'v1 is still the only release',
        );

        const again = await call(
          server.url,
          token,
          'POST',
          '/deployments/steady',
          await tarGzBundle(nodeApp),
        );
        assert.equal(again.status, 202, 'the app takes new tasks');
      } finally {
        await server.stop('SIGTERM');
        await location.drop();
      }
    });
  });
}
