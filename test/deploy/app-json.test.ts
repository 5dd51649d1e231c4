// Apps written for Heroku and Dokku, deployed unchanged through the API on the process
// runtime: app.json's metadata in the deployment record and its warnings in the events; a
// wrong type refused at upload with its JSON path and nothing queued.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestServer, type TestServer } from '../support/api.js';
import { tarGzBundle, type BundleFiles } from '../support/bundles.js';
import { deploy, viaRouter } from '../support/platform.js';
import { nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface EventsPage {
  events: { kind: string; step: string | null; text?: string }[];
}

const withAppJson = (files: BundleFiles, appJson: unknown): BundleFiles => ({
  ...files,
  'app.json': JSON.stringify(appJson, null, 2),
});

describe('app.json on the process runtime', () => {
  let server: TestServer;
  let token: string;

  /** Every line of the app's newest task, joined. */
  const linesOfLatest = async (app: string): Promise<string> => {
    const [newest] = (await server.request('GET', `/apps/${app}/deployments`, { token })).body as {
      id: string;
    }[];
    const page = (
      await server.request('GET', `/apps/${app}/deployments/${newest?.id ?? ''}/events`, {
        token,
      })
    ).body as EventsPage;
    return page.events.map((e) => e.text ?? '').join('\n');
  };
  const taskCount = async (app: string): Promise<number> =>
    ((await server.request('GET', `/apps/${app}/deployments`, { token })).body as unknown[]).length;

  before(async () => {
    server = await startTestServer('sqlite');
    token = server.adminToken;
    for (const name of ['meta', 'refused']) {
      const created = await server.request('POST', '/apps', { token, body: { name } });
      assert.equal(created.status, 201);
    }
  });
  after(() => server.close());

  it('keeps the metadata in the record and warns of what it does not apply', async () => {
    const record = await deploy(
      server,
      token,
      'meta',
      withAppJson(nodeHelloApp, {
        name: 'Hello',
        description: 'A hello app written for Heroku.',
        keywords: ['node', 'example'],
        repository: 'https://github.com/example/hello',
        website: 'https://example.com',
        scripts: { postdeploy: 'node seed.js' },
        cron: [{ command: 'node report.js', schedule: '0 * * * *' }],
        colour: 'blue',
      }),
    );
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const details = (record as unknown as { details: { projectMetadata: unknown } }).details;
    assert.deepEqual(details.projectMetadata, {
      name: 'Hello',
      description: 'A hello app written for Heroku.',
      keywords: ['node', 'example'],
      repository: 'https://github.com/example/hello',
    });
    const lines = await linesOfLatest('meta');
    assert.match(
      lines,
      /^warning: app\.json: scripts, cron are not applied yet: this deploy runs without them$/m,
    );
    assert.match(lines, /^warning: app\.json: ignored: website \(a Heroku Button field\)$/m);
    assert.match(lines, /^warning: app\.json: unknown field 'colour' ignored$/m);
    assert.equal((await viaRouter(server.server.routerUrl, 'meta', '/health')).text, 'ok');
    // The OpenAPI document describes the metadata.
    const openapi = (await server.request('GET', '/openapi.json')).body as object;
    const text = JSON.stringify(openapi);
    assert.match(text, /"keywords":\{"type":"array","items":\{"type":"string"\}\}/);
  });

  it('refuses a wrong type at upload with its JSON path, and queues nothing', async () => {
    const before = await taskCount('refused');
    for (const [appJson, reason, message] of [
      [
        { env: { SECRET_KEY: { required: 'yes' } } },
        'APP_JSON_SCHEMA',
        'app.json: env.SECRET_KEY.required must be a boolean; got a string',
      ],
      [
        { formation: { web: { quantity: 1, size: 'enormous' } } },
        'APP_JSON_SCHEMA',
        /^app\.json: formation\.web\.size 'enormous' is not a size Berth knows/,
      ],
      [
        { addons: [{ plan: 42 }] },
        'APP_JSON_SCHEMA',
        'app.json: addons[0].plan must be a string; got a number',
      ],
      [{ env: { PORT: '80' } }, 'APP_JSON_ENV_REFUSED', /^app\.json: env variable 'PORT'/],
    ] as const) {
      const bundle = await tarGzBundle(withAppJson(withVersion(nodeHelloApp, 'x'), appJson));
      const reply = await server.request('POST', '/deployments/refused', {
        token,
        raw: { data: bundle, contentType: 'application/gzip' },
      });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal(errorCode(reply), 'BUNDLE_INVALID');
      const error = (reply.body as { error: { message: string; reason?: string } }).error;
      assert.equal(error.reason, reason);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
    }
    // A 10 MB app.json, not compressible enough to trip the bundle's ratio limit.
    const huge = JSON.stringify({ description: randomBytes(5 * 1024 * 1024).toString('hex') });
    const reply = await server.request('POST', '/deployments/refused', {
      token,
      raw: {
        data: await tarGzBundle({ ...nodeHelloApp, 'app.json': huge }),
        contentType: 'application/gzip',
      },
    });
    assert.equal(reply.status, 400, JSON.stringify(reply.body));
    assert.deepEqual((reply.body as { error: unknown }).error, {
      code: 'BUNDLE_INVALID',
      message: 'app.json is larger than 128 KiB, the most it may hold',
      reason: 'APP_JSON_TOO_LARGE',
    });
    assert.equal(await taskCount('refused'), before, 'nothing was queued');
  });
});
