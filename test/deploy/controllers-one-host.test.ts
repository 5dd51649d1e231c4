// Several controllers of one store on one host (issue 14, section 6): their allocators race
// for unit ports, which only the host's claims in the store keep apart. Two `berth server`
// processes with data dirs of their own, one PostgreSQL, one unit port range, deploying 40
// apps at once through both APIs; then the same with one of them killed mid-burst.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessDriver } from '../../src/runtime/index.js';
import { stopDataPlane } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { testUnitPorts } from '../support/api.js';
import { tarGzBundle } from '../support/bundles.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { viaRouter } from '../support/platform.js';
import {
  BERTH_BIN,
  callApi as call,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process.js';

const APPS = 40;

/** A web-only app that says its name, listening on PORT with no host: the wildcard, `::`. */
const namedApp = {
  'package.json': JSON.stringify({ name: 'named', version: '1.0.0' }),
  'server.js':
    "require('http').createServer((q, s) => s.end(process.env.BERTH_APP)).listen(process.env.PORT);\n",
  Procfile: 'web: node server.js\n',
  'berth.json': JSON.stringify({ healthcheck: { path: '/', timeoutSeconds: 5, attempts: 3 } }),
};

interface Controllers {
  readonly servers: readonly [ServerProcess, ServerProcess];
  readonly dataDirs: readonly [string, string];
  readonly location: TestDatabase;
  readonly token: string;
}

/**
 * Runs `work` with two controllers on a fresh PostgreSQL database, with data dirs of their own
 * and one unit port range; then stops them and their data planes, and drops the database.
 */
async function withTwoControllers(
  tuning: Record<string, string>,
  work: (controllers: Controllers) => Promise<void>,
): Promise<void> {
  const location = await createTestDatabase('postgres');
  const env = {
    BERTH_DATABASE_URL: location.databaseUrl ?? '',
    // Controllers of one store share its master key.
    BERTH_MASTER_KEY: randomBytes(32).toString('base64'),
    // One range for both: the race this file is about.
    BERTH_UNIT_PORTS: testUnitPorts(),
    // Several rollouts at once on each controller, so allocations overlap.
    BERTH_DEPLOY_CONCURRENCY: '6',
    ...tuning,
  };
  const dataDirs = [location.dataDir, path.join(location.dataDir, 'second')] as const;
  const servers: ServerProcess[] = [];
  try {
    for (const dataDir of dataDirs) {
      servers.push(await startServerProcess(['--data-dir', dataDir], env));
    }
    const token = readFileSync(path.join(dataDirs[0], 'initial-admin-token'), 'utf8').trim();
    await work({ servers: [servers[0]!, servers[1]!], dataDirs, location, token });
  } finally {
    for (const server of servers) await server.stop('SIGKILL');
    for (const dataDir of dataDirs) await stopDataPlane(dataDir, 1000);
    await location.drop();
  }
}

/** Creates the apps and queues a deploy of each, alternating between the two APIs, at once. */
async function burst(urls: readonly [string, string], token: string, apps: readonly string[]) {
  const bundle = await tarGzBundle(namedApp);
  for (const [i, app] of apps.entries()) {
    const created = await call(urls[i % 2]!, token, 'POST', '/apps', { name: app });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  await Promise.all(
    apps.map(async (app, i) => {
      const queued = await call(urls[(i + 1) % 2]!, token, 'POST', `/deployments/${app}`, bundle);
      assert.equal(queued.status, 202, JSON.stringify(queued.body));
    }),
  );
}

/** The finished task of the app, polled through `url`; undefined while it is queued or runs. */
async function finished(url: string, token: string, app: string) {
  const reply = await call(url, token, 'GET', `/deployments/${app}`);
  return reply.status === 200 ? reply.body : undefined;
}

/** Waits until every app's task finished; returns the records by app. */
async function allFinished(url: string, token: string, apps: readonly string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const records = new Map<string, Record<string, unknown>>();
  while (records.size < apps.length) {
    for (const app of apps.filter((a) => !records.has(a))) {
      const record = await finished(url, token, app);
      if (record) records.set(app, record);
    }
    if (records.size < apps.length && Date.now() > deadline) {
      const left = apps.filter((a) => !records.has(a));
      throw new Error(
        `after ${timeoutMs} ms, ${left.length} tasks had not finished: ${left.join(', ')}`,
      );
    }
    await sleep(100);
  }
  return records;
}

/** The controllers that claimed the task, from its log ("… claimed by controller ID"). */
async function claimersOf(url: string, token: string, app: string, taskId: string) {
  const detail = await call(url, token, 'GET', `/apps/${app}/deployments/${taskId}`);
  return [...String(detail.body?.['log']).matchAll(/claimed by controller (\S+)/g)].map(
    (m) => m[1] ?? '',
  );
}

/**
 * Waits until the app answers with its own name through the router. Not at once: a reconciler
 * that stops the units of an app whose task just ended (issue 14, section 5) leaves its route
 * on a port that another unit may hold until the app is converged again.
 */
async function answersAsItself(routerUrl: string, app: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let text = '';
  while (Date.now() < deadline) {
    text = await viaRouter(routerUrl, app).then(
      (reply) => reply.text,
      (error: Error) => error.message,
    );
    if (text === app) return;
    await sleep(250);
  }
  assert.equal(text, app, `${app} answers as itself`);
}

/** Every unit of both controllers' runtimes, as their records on disk say. */
async function unitsOf(dataDirs: readonly string[]) {
  const units = [];
  for (const dataDir of dataDirs) {
    const driver = new ProcessDriver({ root: path.join(dataDir, 'runtime') });
    units.push(...(await driver.list()).map((unit) => ({ ...unit, dataDir })));
  }
  return units;
}

/** The claims in the store, as `unitId port` strings, by owner (a runtime root). */
async function claimsIn(location: TestDatabase): Promise<Map<string, string[]>> {
  const store = await openStore({ dataDir: location.dataDir, databaseUrl: location.databaseUrl });
  try {
    const rows = await store.db.selectFrom('unit_ports').selectAll().execute();
    const byOwner = new Map<string, string[]>();
    for (const row of rows) {
      byOwner.set(row.owner, [...(byOwner.get(row.owner) ?? []), `${row.unit_id} ${row.port}`]);
    }
    return byOwner;
  } finally {
    await store.close();
  }
}

type ListedUnit = Awaited<ReturnType<typeof unitsOf>>[number];

/**
 * Looks at both runtimes until they settle (as `settled` says, each unit with its claim),
 * asserting at every look that no port is held by two units; returns the claims of units that
 * do not exist, by data dir. Units come and go for a while after the tasks end: the
 * reconcilers converge what the tasks left.
 */
async function assertPortsApart(
  location: TestDatabase,
  dataDirs: readonly string[],
  settled: (units: readonly ListedUnit[]) => boolean,
): Promise<Map<string, string[]>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const units = await unitsOf(dataDirs);
    const ports = units.map((u) => u.address.port);
    const twice = ports.filter((port, i) => ports.indexOf(port) !== i);
    assert.deepEqual(twice, [], 'no port is held by two units');
    const claims = await claimsIn(location);
    const unclaimed: string[] = [];
    const leftover = new Map<string, string[]>();
    for (const dataDir of dataDirs) {
      const owned = claims.get(path.join(dataDir, 'runtime')) ?? [];
      const held = units
        .filter((u) => u.dataDir === dataDir)
        .map((u) => `${u.id} ${u.address.port}`);
      unclaimed.push(...held.filter((h) => !owned.includes(h)));
      leftover.set(
        dataDir,
        owned.filter((o) => !held.includes(o)),
      );
    }
    if (settled(units) && unclaimed.length === 0) return leftover;
    if (Date.now() > deadline) {
      assert.deepEqual(unclaimed, [], 'every unit holds a claim of its port');
      assert.fail(`the units did not settle: ${units.map((u) => `${u.id} ${u.state}`).join(', ')}`);
    }
    await sleep(250);
  }
}

describe('two controllers on one PostgreSQL on one host', () => {
  it(`deploy ${APPS} apps at once through both APIs: none fails, no port is held twice`, async () => {
    await withTwoControllers({}, async ({ servers, dataDirs, location, token }) => {
      const urls = [servers[0].url, servers[1].url] as const;
      const apps = Array.from({ length: APPS }, (_, i) => `burst${i}`);
      const startedAt = Date.now();
      await burst(urls, token, apps);
      const records = await allFinished(urls[0], token, apps, 240_000);
      const elapsed = Date.now() - startedAt;

      const failed = [...records].filter(([, r]) => r['status'] !== 'succeeded');
      assert.deepEqual(
        failed.map(([app, r]) => `${app}: ${JSON.stringify(r['details'])}`),
        [],
        'no task failed',
      );
      const claimers = new Map<string, number>();
      for (const [app, record] of records) {
        const claims = await claimersOf(urls[1], token, app, String(record['id']));
        assert.equal(claims.length, 1, `${app}'s task ran once: ${claims.join(', ')}`);
        claimers.set(claims[0]!, (claimers.get(claims[0]!) ?? 0) + 1);
      }
      assert.equal(
        claimers.size,
        2,
        `both controllers ran tasks: ${JSON.stringify([...claimers])}`,
      );

      const leftover = await assertPortsApart(
        location,
        dataDirs,
        (units) => units.length === APPS && units.every((u) => u.state === 'running'),
      );
      assert.deepEqual([...leftover.values()].flat(), [], 'no claim outlives its unit');
      for (const app of apps) await answersAsItself(servers[0].routerUrl, app);
      process.stdout.write(
        `# ${APPS} deploys on 2 controllers in ${elapsed} ms; tasks per controller: ` +
          `${[...claimers.values()].join(' and ')}\n`,
      );
    });
  });

  it('one controller killed mid-burst: the other finishes the rest once the lease expires', async () => {
    const leaseMs = 1500;
    const tuning = {
      BERTH_DEPLOY_LEASE_MS: String(leaseMs),
      // Long enough steps that the kill finds tasks running on the victim.
      BERTH_TEST_DEPLOY_STEP_DELAY_MS: '150',
    };
    await withTwoControllers(tuning, async ({ servers, dataDirs, location, token }) => {
      const [victim, survivor] = servers;
      const apps = Array.from({ length: APPS }, (_, i) => `kill${i}`);
      await burst([victim.url, survivor.url], token, apps);
      // Mid-burst: some tasks done, most still queued or running.
      const deadline = Date.now() + 120_000;
      let done = 0;
      while (done < 6) {
        done = 0;
        for (const app of apps) if (await finished(survivor.url, token, app)) done++;
        if (Date.now() > deadline) throw new Error(`only ${done} tasks finished in 120 s`);
        await sleep(100);
      }
      assert.equal(await victim.stop('SIGKILL'), null);
      const killedAt = Date.now();
      const records = await allFinished(survivor.url, token, apps, 240_000);

      const claimerOf = new Map<string, string>();
      for (const [app, record] of records) {
        const claims = await claimersOf(survivor.url, token, app, String(record['id']));
        assert.equal(claims.length, 1, `${app}'s task ran once: ${claims.join(', ')}`);
        claimerOf.set(app, claims[0]!);
      }
      // Whoever finished a task after the kill is the survivor.
      const survivorIds = new Set(
        [...records]
          .filter(([, r]) => Date.parse(String(r['finishedAt'])) > killedAt + leaseMs)
          .filter(([, r]) => r['status'] === 'succeeded')
          .map(([app]) => claimerOf.get(app)),
      );
      assert.equal(survivorIds.size, 1, 'one controller worked after the kill');
      let abandoned = 0;
      for (const [app, record] of records) {
        if (record['status'] === 'succeeded') continue;
        // Only a task the victim was running when it died may fail, and only as abandoned.
        assert.ok(
          !survivorIds.has(claimerOf.get(app)),
          `${app} failed on the survivor: ${JSON.stringify(record)}`,
        );
        assert.match(
          String((record['details'] as { error: string }).error),
          /^controller stopped during \w+$/,
        );
        const finishedAt = Date.parse(String(record['finishedAt']));
        assert.ok(finishedAt >= killedAt, `${app} was failed after the kill`);
        abandoned++;
      }
      assert.ok(abandoned <= 6, `at most the victim's concurrency failed: ${abandoned}`);
      const succeeded = APPS - abandoned;
      // The survivor runs a unit of every app it deployed, and nothing else; the victim's units
      // stay as it left them (only it has their builds, so no one restarts one that stops).
      const survivorApps = [...records]
        .filter(([app, r]) => r['status'] === 'succeeded' && survivorIds.has(claimerOf.get(app)))
        .map(([app]) => app);
      const leftover = await assertPortsApart(location, dataDirs, (units) => {
        const survivors = units.filter((u) => u.dataDir === dataDirs[1]);
        return (
          survivors.every((u) => u.state === 'running') &&
          survivorApps.every((app) => survivors.some((u) => u.app === app))
        );
      });
      // Only the victim, killed between claiming a port and recording its unit, may leave
      // claims behind (taken back once stale); the survivor stopped nothing without its claim.
      assert.deepEqual(leftover.get(dataDirs[1]), [], "the survivor's claims are its units'");
      const orphaned = leftover.get(dataDirs[0]) ?? [];
      assert.ok(orphaned.length <= 6, `at most the victim's concurrency: ${orphaned.join(', ')}`);
      for (const app of survivorApps) await answersAsItself(survivor.routerUrl, app);
      process.stdout.write(
        `# killed one controller after ${done} of ${APPS} tasks; ${abandoned} of its tasks ` +
          `failed as abandoned, ${succeeded} succeeded (${survivorApps.length} on the survivor); it left ${orphaned.length} claims of ` +
          `units it did not record\n`,
      );
    });
  });
});

/** `berth server` on free ports, to its exit (killed after 30 s: it should not have started). */
function serverExit(dataDir: string, env: NodeJS.ProcessEnv) {
  const listen = ['--listen', '--router-listen', '--ssh-listen'].flatMap((f) => [f, '127.0.0.1:0']);
  const child = spawn(process.execPath, [BERTH_BIN, 'server', '--data-dir', dataDir, ...listen], {
    env: { ...process.env, ...env },
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

for (const backend of backends) {
  describe(`a controller on another host than the units, on ${backend}`, () => {
    it('refuses to start, says where the units are and names the Kubernetes runtime', async () => {
      const location = await createTestDatabase(backend);
      try {
        const env = {
          ...(location.databaseUrl ? { BERTH_DATABASE_URL: location.databaseUrl } : {}),
          BERTH_MASTER_KEY: randomBytes(32).toString('base64'),
        };
        const first = await startServerProcess(['--data-dir', location.dataDir], {
          ...env,
          BERTH_HOST_ID: 'host-a',
        });
        await first.stop('SIGTERM');
        // SQLite lives in the data dir: "another host" is that data dir copied elsewhere.
        const elsewhere = location.databaseUrl
          ? path.join(location.dataDir, 'elsewhere')
          : location.dataDir;
        const refused = await serverExit(elsewhere, { ...env, BERTH_HOST_ID: 'host-b' });
        assert.equal(refused.code, 1, refused.stderr);
        const lines = refused.stderr.trim().split('\n');
        assert.equal(lines.length, 1, refused.stderr);
        assert.match(
          lines[0]!,
          /^berth: this store's units live on host \S+ \(id host-a\), not on /,
        );
        assert.match(lines[0]!, /use the Kubernetes runtime \(--runtime kubernetes\)/);
        assert.match(lines[0]!, /BERTH_HOST_ID=host-a$/);
        if (location.databaseUrl) {
          const pidFile = path.join(elsewhere, 'router', 'router.pid');
          assert.equal(existsSync(pidFile), false, 'no router was started');
        }

        // The host the units live on starts as before.
        const again = await startServerProcess(['--data-dir', location.dataDir], {
          ...env,
          BERTH_HOST_ID: 'host-a',
        });
        await again.stop('SIGTERM');
      } finally {
        await stopDataPlane(location.dataDir, 1000);
        await location.drop();
      }
    });
  });
}
