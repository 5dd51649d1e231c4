import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backends } from '../support/databases.js';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  type ApiResponse,
  type TestServer,
} from '../support/api.js';
import { nodeApp, tarGzBundle, zipBundle } from '../support/bundles.js';

interface DeploymentRecord {
  id: string;
  app: string;
  status: string;
  taskActive: boolean;
  release: number | null;
  finishedAt: string | null;
  details: {
    error: string | null;
    processErrors: Record<string, string | null> | null;
    projectMetadata: Record<string, unknown> | null;
    stack: string | null;
    steps: Array<{
      name: string;
      status: string;
      startedAt: string | null;
      finishedAt: string | null;
    }>;
  };
  log?: string;
}

function post(
  api: TestServer,
  token: string,
  app: string,
  bundle: Buffer,
  query = '',
  contentType = 'application/gzip',
) {
  return api.request('POST', `/deployments/${app}${query}`, {
    token,
    raw: { data: bundle, contentType },
  });
}

/** Polls GET /deployments/{app} until it is no longer 204. */
async function finished(
  api: TestServer,
  token: string,
  app: string,
  timeoutMs = 30_000,
): Promise<ApiResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await api.request('GET', `/deployments/${app}`, { token });
    if (response.status !== 204) return response;
    if (Date.now() > deadline)
      throw new Error(`the deployment of ${app} did not finish in ${timeoutMs} ms`);
    await sleep(50);
  }
}

for (const backend of backends) {
  describe(`deployments on ${backend}`, () => {
    let api: TestServer;
    let alice: string;
    let counter = 0;
    const newApp = async () => {
      const name = `app${++counter}`;
      assert.equal(
        (await api.request('POST', '/apps', { token: alice, body: { name } })).status,
        201,
      );
      return name;
    };

    after(() => api?.close());
    before(async () => {
      api = await startTestServer(backend, {
        env: {
          BERTH_TEST_DEPLOY_STEP_DELAY_MS: '150',
          BERTH_BUNDLE_LIMIT_BYTES: String(256 * 1024),
        },
      });
      alice = await createUserAndLogin(api, 'alice');
    });

    it('queues with 202, refuses a second task with 409, answers 204 while active and 200 when done', async () => {
      const app = await newApp();
      assert.equal(
        errorCode(await api.request('GET', `/deployments/${app}`, { token: alice })),
        'NOT_DEPLOYED',
      );
      const queued = await post(api, alice, app, await tarGzBundle(nodeApp), '?autoconfigure=true');
      assert.equal(queued.status, 202, JSON.stringify(queued.body));
      assert.equal(queued.headers.get('location'), `/api/v1/deployments/${app}`);
      const second = await post(api, alice, app, await tarGzBundle(nodeApp));
      assert.equal(second.status, 409);
      assert.equal(errorCode(second), 'DEPLOYMENT_ACTIVE');
      assert.equal((await api.request('GET', `/deployments/${app}`, { token: alice })).status, 204);
      const done = await finished(api, alice, app);
      assert.equal(done.status, 200);
      const record = done.body as DeploymentRecord;
      assert.equal(record.status, 'succeeded', JSON.stringify(record));
      assert.equal(record.taskActive, false);
      assert.equal(record.release, 1);
      assert.equal(record.details.stack, 'node');
      assert.deepEqual(record.details.processErrors, { web: null, worker: null });
      assert.equal(record.details.projectMetadata?.['description'], 'a test app');
      assert.deepEqual(
        record.details.steps.map((s) => [s.name, s.status]),
        [
          ['validate', 'succeeded'],
          ['build', 'succeeded'],
          ['release', 'succeeded'],
          ['rollout', 'succeeded'],
          ['finalize', 'succeeded'],
        ],
      );
      for (const step of record.details.steps)
        assert.ok(step.startedAt && step.finishedAt && step.startedAt <= step.finishedAt);
      const config = await api.request('GET', `/apps/${app}/config`, { token: alice });
      assert.deepEqual(
        config.body,
        { GREETING: 'hello' },
        'autoconfigure applied the sample value',
      );
      const detail = await api.request('GET', `/apps/${app}/deployments/${record.id}`, {
        token: alice,
      });
      assert.match(
        (detail.body as DeploymentRecord).log ?? '',
        /claimed by controller .*\n(.|\n)*released v1/,
      );
    });

    it('takes zip bundles too, and reuses an unchanged artifact', async () => {
      const app = await newApp();
      await post(api, alice, app, await zipBundle(nodeApp), '', 'application/zip');
      assert.equal(
        ((await finished(api, alice, app)).body as DeploymentRecord).status,
        'succeeded',
      );
      await post(api, alice, app, await tarGzBundle(nodeApp));
      assert.equal(((await finished(api, alice, app)).body as DeploymentRecord).release, 2);
      const releases = (await api.request('GET', `/apps/${app}/releases`, { token: alice }))
        .body as Array<{ version: number; artifactId: string }>;
      assert.deepEqual(
        releases.map((r) => r.version),
        [2, 1],
      );
      assert.equal(releases[0]?.artifactId, releases[1]?.artifactId, 'same content, one artifact');
    });

    it('fails a bundle with process errors, with per-process errors and no release', async () => {
      const app = await newApp();
      const bundle = await tarGzBundle({
        Procfile: 'web: node server.js\nBad_Type: run\n',
        'server.js': '',
      });
      assert.equal((await post(api, alice, app, bundle)).status, 202);
      const record = (await finished(api, alice, app)).body as DeploymentRecord;
      assert.equal(record.status, 'failed');
      assert.equal(record.release, null);
      assert.match(record.details.error ?? '', /failed validation/);
      assert.ok(
        record.details.processErrors?.['Bad_Type'],
        JSON.stringify(record.details.processErrors),
      );
      assert.deepEqual(
        (await api.request('GET', `/apps/${app}/releases`, { token: alice })).body,
        [],
      );
      assert.deepEqual(
        record.details.steps.map((s) => s.status),
        ['failed', 'skipped', 'skipped', 'skipped', 'skipped'],
      );
    });

    it('fails when a required config var is missing, naming it', async () => {
      const app = await newApp();
      const bundle = await tarGzBundle({
        Procfile: 'web: node s.js\n',
        's.js': '',
        'berth.json': JSON.stringify({ env: { SECRET_KEY: { required: true } } }),
      });
      await post(api, alice, app, bundle);
      const record = (await finished(api, alice, app)).body as DeploymentRecord;
      assert.equal(record.status, 'failed');
      assert.match(record.details.error ?? '', /required config vars are not set: SECRET_KEY/);
    });

    for (const [label, files, contentType, pattern, reason] of [
      ['not an archive', null, 'application/gzip', /archive/, 'NOT_AN_ARCHIVE'],
      ['an empty body', Buffer.alloc(0), 'application/gzip', /missing bundle/, undefined],
      ['a truncated archive', 'truncate', 'application/gzip', /./, 'CORRUPT_ARCHIVE'],
      [
        'invalid berth.json',
        { 'berth.json': '{"name": ', Procfile: 'web: x\n' },
        'application/gzip',
        /berth\.json/,
        'BERTH_JSON_INVALID',
      ],
      [
        'an empty Procfile',
        { Procfile: '# nothing\n' },
        'application/gzip',
        /Procfile defines no process/,
        'PROCFILE_EMPTY',
      ],
    ] as const) {
      it(`refuses ${label} with 400 BUNDLE_INVALID and leaves nothing behind`, async () => {
        const app = await newApp();
        let data: Buffer;
        if (files === null) data = Buffer.from('just some text, not an archive');
        else if (files === 'truncate') data = (await tarGzBundle(nodeApp)).subarray(0, 120);
        else if (Buffer.isBuffer(files)) data = files;
        else data = await tarGzBundle(files);
        const response = await post(api, alice, app, data, '', contentType);
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(errorCode(response), 'BUNDLE_INVALID');
        assert.match((response.body as { error: { message: string } }).error.message, pattern);
        assert.equal((response.body as { error: { reason?: string } }).error.reason, reason);
        assert.equal(
          errorCode(await api.request('GET', `/deployments/${app}`, { token: alice })),
          'NOT_DEPLOYED',
        );
      });
    }

    it('refuses a bundle over the size limit with 413 and queues nothing', async () => {
      const app = await newApp();
      const big = Buffer.alloc(400 * 1024, 7);
      const response = await post(api, alice, app, big);
      assert.equal(response.status, 413);
      assert.equal(errorCode(response), 'PAYLOAD_TOO_LARGE');
      assert.equal(
        errorCode(await api.request('GET', `/deployments/${app}`, { token: alice })),
        'NOT_DEPLOYED',
      );
    });

    it("answers 404 for an unknown app and 403 for another user's app", async () => {
      const bundle = await tarGzBundle(nodeApp);
      assert.equal(errorCode(await post(api, alice, 'no-such-app', bundle)), 'APP_NOT_FOUND');
      const bob = await createUserAndLogin(api, `bob${backend}`);
      const app = await newApp();
      assert.equal((await post(api, bob, app, bundle)).status, 403);
      assert.equal((await api.request('GET', `/deployments/${app}`, { token: bob })).status, 403);
    });

    it('numbers releases: a config change and a rollback each make a new one', async () => {
      const app = await newApp();
      await post(api, alice, app, await tarGzBundle(nodeApp));
      await finished(api, alice, app);
      await post(api, alice, app, await tarGzBundle({ ...nodeApp, 'server.js': '// v2\n' }));
      await finished(api, alice, app);
      await api.request('PATCH', `/apps/${app}/config`, { token: alice, body: { MODE: 'x' } });
      const rollback = await api.request('POST', `/apps/${app}/rollback`, {
        token: alice,
        body: { version: 1 },
      });
      assert.equal(rollback.status, 201, JSON.stringify(rollback.body));
      const releases = (await api.request('GET', `/apps/${app}/releases`, { token: alice }))
        .body as Array<{
        version: number;
        description: string;
        artifactId: string;
        configKeys: string[];
      }>;
      assert.deepEqual(
        releases.map((r) => r.version),
        [4, 3, 2, 1],
      );
      assert.equal(releases[1]?.description, 'Set config vars');
      assert.deepEqual(releases[1]?.configKeys, ['MODE']);
      assert.equal(releases[0]?.description, 'Rollback to v1');
      assert.equal(releases[0]?.artifactId, releases[3]?.artifactId);
      assert.notEqual(releases[0]?.artifactId, releases[2]?.artifactId);
      assert.equal(
        (
          await api.request('POST', `/apps/${app}/rollback`, {
            token: alice,
            body: { version: 99 },
          })
        ).status,
        404,
      );
      assert.equal(
        (await api.request('POST', `/apps/${app}/rollback`, { token: alice, body: { version: 0 } }))
          .status,
        400,
      );
    });

    it('pages the listing, one entry per app, newest first', async () => {
      const listing = async (query: string) =>
        api.request('GET', `/deployments${query}`, { token: alice });
      const all = (await listing('?start=0&count=500')).body as {
        totalEntriesCount: number;
        entries: DeploymentRecord[];
      };
      assert.ok(all.totalEntriesCount >= 3);
      assert.equal(
        new Set(all.entries.map((e) => e.app)).size,
        all.entries.length,
        'one entry per app',
      );
      const sorted = [...all.entries].sort((a, b) =>
        (a.finishedAt ?? '') < (b.finishedAt ?? '') ? 1 : -1,
      );
      assert.ok(sorted.length === all.entries.length);
      const two = (await listing('?start=1&count=2')).body as {
        start: number;
        entriesCount: number;
        entries: DeploymentRecord[];
      };
      assert.deepEqual([two.start, two.entriesCount], [1, 2]);
      assert.deepEqual(
        two.entries.map((e) => e.id),
        all.entries.slice(1, 3).map((e) => e.id),
      );
      const past = (await listing('?start=100000&count=5')).body as {
        entriesCount: number;
        totalEntriesCount: number;
      };
      assert.deepEqual([past.entriesCount, past.totalEntriesCount], [0, all.totalEntriesCount]);
      const none = (await listing('?count=0')).body as {
        entriesCount: number;
        totalEntriesCount: number;
      };
      assert.deepEqual([none.entriesCount, none.totalEntriesCount], [0, all.totalEntriesCount]);
      for (const bad of ['?start=-1', '?count=-5', '?count=abc', '?count=501']) {
        const response = await listing(bad);
        assert.equal(response.status, 400, bad);
        assert.equal(errorCode(response), 'INVALID_INPUT');
      }
    });

    it('sets and reads per-process-type configs', async () => {
      const app = await newApp();
      const put = await api.request('PUT', `/deployments/configs/${app}`, {
        token: alice,
        body: { web: { A: '1' }, worker: { B: '2' } },
      });
      assert.deepEqual(put.body, { web: true, worker: true });
      const again = await api.request('PUT', `/deployments/configs/${app}`, {
        token: alice,
        body: { web: { A: '1' } },
      });
      assert.deepEqual(again.body, { web: false });
      const got = await api.request('GET', `/deployments/configs/${app}`, { token: alice });
      assert.deepEqual(got.body, { web: { A: '1' }, worker: { B: '2' } });
      const bad = await api.request('PUT', `/deployments/configs/${app}`, {
        token: alice,
        body: { 'Bad Type': { A: '1' } },
      });
      assert.equal(bad.status, 400);
    });

    it('undeploys with 204, and refuses while a task runs', async () => {
      const app = await newApp();
      assert.equal(
        errorCode(await api.request('DELETE', `/deployments/${app}`, { token: alice })),
        'NOT_DEPLOYED',
      );
      await post(api, alice, app, await tarGzBundle(nodeApp));
      assert.equal(
        (await api.request('DELETE', `/deployments/${app}`, { token: alice })).status,
        409,
      );
      await finished(api, alice, app);
      assert.equal(
        (await api.request('DELETE', `/deployments/${app}`, { token: alice })).status,
        204,
      );
      const record = (await finished(api, alice, app)).body as DeploymentRecord & { kind: string };
      assert.equal(record.kind, 'undeploy');
      assert.equal(record.status, 'succeeded');
      assert.equal(
        (await api.request('GET', `/apps/${app}`, { token: alice })).status,
        200,
        'the app stays',
      );
    });

    it('cancels a running task: it ends cancelled, with no release', async () => {
      const app = await newApp();
      const queued = await post(api, alice, app, await tarGzBundle(nodeApp));
      const id = (queued.body as { id: string }).id;
      const cancel = await api.request('POST', `/apps/${app}/deployments/${id}/cancel`, {
        token: alice,
      });
      assert.equal(cancel.status, 202);
      const record = (await finished(api, alice, app)).body as DeploymentRecord;
      assert.equal(record.status, 'cancelled');
      assert.equal(record.release, null);
      const again = await api.request('POST', `/apps/${app}/deployments/${id}/cancel`, {
        token: alice,
      });
      assert.equal(errorCode(again), 'DEPLOYMENT_FINISHED');
    });
  });
}
