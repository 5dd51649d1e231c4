// Apps written for Heroku and Dokku, deployed unchanged through the API on the process
// runtime: app.json's metadata in the deployment record and its warnings in the events; a
// wrong type refused at upload with its JSON path and nothing queued; env values set as
// defaults, required keys failing the deploy, a generated secret kept and never logged;
// `web: 0` with a worker, and a worker-only app, running with no route; Procfile comments;
// Heroku sizes as memory limits, applied once; heroku-postgresql giving DATABASE_URL; berth.json
// winning over app.json field by field.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestServer, type TestServer } from '../support/api.js';
import { tarGzBundle, type BundleFiles } from '../support/bundles.js';
import { deploy, eventually, viaRouter, waitForTask } from '../support/platform.js';
import { nodeHelloApp, nodeWorkerApp, withVersion } from '../support/sample-apps.js';

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
    for (const name of [
      'meta',
      'refused',
      'envs',
      'nowebs',
      'workers',
      'sized',
      'heroku',
      'both',
    ]) {
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
        healthchecks: { web: [{ type: 'startup', path: '/health' }] },
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
      /^warning: app\.json: healthchecks is not applied yet: this deploy runs without it$/m,
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

  it('sets values as defaults, fails on a missing required key, keeps a generated secret', async () => {
    const files = withAppJson(nodeHelloApp, {
      env: {
        GREETING: 'hello from app.json',
        LOG_LEVEL: { value: 'info', required: false },
        SECRET_KEY: { description: 'signs sessions', generator: 'secret' },
        API_TOKEN: { description: 'the upstream token' },
        OPTIONAL: { description: 'nobody sets this', required: false },
      },
    });
    const first = await deploy(server, token, 'envs', withVersion(files, 'one'));
    assert.equal(first.status, 'failed');
    assert.equal(
      first.details.error,
      'required config vars are not set: API_TOKEN (set them with berth config set, then deploy again)',
    );
    const config = async () =>
      (await server.request('GET', '/apps/envs/config', { token })).body as Record<string, string>;
    assert.deepEqual(await config(), {}, 'a failed validate sets nothing');

    const set = await server.request('PATCH', '/apps/envs/config', {
      token,
      body: { API_TOKEN: 't0k3n', GREETING: 'set by the owner' },
    });
    assert.equal(set.status, 200);
    const second = await deploy(server, token, 'envs', withVersion(files, 'two'));
    assert.equal(second.status, 'succeeded', second.details.error ?? '');
    const secondLines = await linesOfLatest('envs');
    assert.match(secondLines, /^app\.json: set LOG_LEVEL to the values app\.json gives$/m);
    assert.match(
      secondLines,
      /^app\.json: generated a secret for SECRET_KEY \(kept from now on\)$/m,
    );
    const routerUrl = server.server.routerUrl;
    const secret = (await viaRouter(routerUrl, 'envs', '/env/SECRET_KEY')).text;
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal((await viaRouter(routerUrl, 'envs', '/env/GREETING')).text, 'set by the owner');
    assert.equal((await viaRouter(routerUrl, 'envs', '/env/LOG_LEVEL')).text, 'info');
    assert.equal((await viaRouter(routerUrl, 'envs', '/env/OPTIONAL')).status, 404);

    const third = await deploy(server, token, 'envs', withVersion(files, 'three'));
    assert.equal(third.status, 'succeeded', third.details.error ?? '');
    const thirdLines = await linesOfLatest('envs');
    assert.doesNotMatch(thirdLines, /generated|app\.json: set/, 'nothing set again');
    assert.equal((await viaRouter(routerUrl, 'envs', '/env/SECRET_KEY')).text, secret, 'kept');
    assert.equal((await config())['SECRET_KEY'], secret, 'an ordinary config var of the app');
    for (const text of [secondLines, thirdLines, server.logText()]) {
      assert.ok(!text.includes(secret), 'the secret is in no log line');
    }
  });

  const processes = async (app: string) =>
    (
      (await server.request('GET', `/apps/${app}/processes`, { token })).body as {
        type: string;
        index: number;
        state: string;
      }[]
    )
      .map((u) => `${u.type}.${u.index} ${u.state}`)
      .sort();
  const workerTicks = (app: string) =>
    eventually(`${app}'s worker logs its ticks`, async () => {
      const lines = (
        await server.request('GET', `/apps/${app}/logs?tail=50&process=worker`, { token })
      ).body as { text?: string; line?: string; message?: string }[];
      return JSON.stringify(lines).includes('worker tick 2');
    });

  it('runs web: 0 as no web unit and no route, the worker running', async () => {
    const record = await deploy(server, token, 'nowebs', {
      ...withAppJson(nodeWorkerApp, {
        formation: { web: { quantity: 0 }, worker: { quantity: 1 } },
      }),
      // Heroku's Procfile: comment lines and blank lines are skipped.
      Procfile:
        '# Written for Heroku\n\nweb: node server.js\n   # the worker does the work\n\nworker: node worker.js\n',
    });
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.deepEqual(await processes('nowebs'), ['worker.1 running']);
    const routed = await viaRouter(server.server.routerUrl, 'nowebs', '/health');
    assert.equal(routed.status, 404, 'no route');
    assert.match(
      await linesOfLatest('nowebs'),
      /^web: 0 units in the formation: the app takes no traffic and has no route$/m,
    );
    await workerTicks('nowebs');
    // Scaled up, it gets its unit and its route; scaled to 0 again, it loses the route.
    const up = await server.request('PATCH', '/apps/nowebs/formation', { token, body: { web: 1 } });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    await eventually('web is routed', async () => {
      return (await viaRouter(server.server.routerUrl, 'nowebs', '/health')).text === 'ok';
    });
    await server.request('PATCH', '/apps/nowebs/formation', { token, body: { web: 0 } });
    await eventually('the route is gone', async () => {
      return (await viaRouter(server.server.routerUrl, 'nowebs', '/health')).status === 404;
    });
  });

  it('runs a worker-only app', async () => {
    const { Procfile: _, ...rest } = nodeWorkerApp;
    const record = await deploy(server, token, 'workers', {
      ...withAppJson(rest, { formation: { worker: { quantity: 2 } } }),
      Procfile: '# only a worker\nworker: node worker.js\n',
    });
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.deepEqual(await processes('workers'), ['worker.1 running', 'worker.2 running']);
    assert.equal((await viaRouter(server.server.routerUrl, 'workers', '/')).status, 404);
    await workerTicks('workers');
  });

  it('sizes process types by Heroku size, once, as a resize would', async () => {
    const sized = (web: string) =>
      withAppJson(nodeWorkerApp, {
        formation: {
          web: { quantity: 1, size: web },
          worker: { quantity: 1, size: 'eco' },
        },
      });
    const formation = async () =>
      (await server.request('GET', '/apps/sized/formation', { token })).body as Record<
        string,
        { count: number; memory: string | null }
      >;
    const first = await deploy(server, token, 'sized', withVersion(sized('Standard-2X'), 'one'));
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const now = await formation();
    assert.deepEqual(
      Object.fromEntries(Object.entries(now).map(([type, e]) => [type, [e.count, e.memory]])),
      { web: [1, '1G'], worker: [1, '512M'] },
    );
    assert.match(
      await linesOfLatest('sized'),
      /^web: 1G of memory per unit, the size app.json gives$/m,
    );
    assert.equal((await viaRouter(server.server.routerUrl, 'sized', '/health')).text, 'ok');
    // A later deploy keeps the formation the app has, as Heroku does.
    const second = await deploy(server, token, 'sized', withVersion(sized('performance-m'), 'two'));
    assert.equal(second.status, 'succeeded', second.details.error ?? '');
    assert.equal((await formation())['web']?.memory, '1G');
    assert.doesNotMatch(await linesOfLatest('sized'), /the size app\.json gives/);
  });

  it('makes the add-ons Heroku names, and ignores others with a warning', async () => {
    const record = await deploy(
      server,
      token,
      'heroku',
      withAppJson(nodeHelloApp, {
        addons: ['heroku-postgresql:essential-0', { plan: 'papertrail:choklad' }],
      }),
    );
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.match(
      (await viaRouter(server.server.routerUrl, 'heroku', '/env/DATABASE_URL')).text,
      /^postgres:\/\//,
    );
    const addons = (await server.request('GET', '/addons', { token })).body as {
      name: string;
      kind: string;
      attachments: { app: string; variable: string }[];
    }[];
    assert.deepEqual(
      addons.map((a) => [a.name, a.kind, a.attachments.map((x) => `${x.app} ${x.variable}`)]),
      [['heroku-postgres', 'postgres', ['heroku DATABASE_URL']]],
    );
    const lines = await linesOfLatest('heroku');
    assert.match(
      lines,
      /^warning: app\.json: add-on 'papertrail:choklad' \(addons\[1\]\) is not one Berth makes; ignored/m,
    );
    assert.match(lines, /made postgres add-on heroku-postgres and attached it as DATABASE_URL/);
  });

  it('lets berth.json win field by field', async () => {
    const bundle = await tarGzBundle({
      ...withAppJson(nodeHelloApp, {
        name: 'from app.json',
        description: 'described by app.json',
        env: { FLAVOR: { value: 'app.json' }, MODE: { value: 'heroku' } },
        formation: { web: { quantity: 2 } },
      }),
      'berth.json': JSON.stringify({
        name: 'from berth.json',
        env: { FLAVOR: { value: 'berth.json' }, MODE: { required: true } },
        formation: { web: 1 },
      }),
    });
    const queued = await server.request('POST', '/deployments/both?autoconfigure=true', {
      token,
      raw: { data: bundle, contentType: 'application/gzip' },
    });
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    const record = await waitForTask(server, token, 'both');
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const details = (record as unknown as { details: { projectMetadata: unknown } }).details;
    assert.deepEqual(details.projectMetadata, {
      name: 'from berth.json',
      description: 'described by app.json',
    });
    const routerUrl = server.server.routerUrl;
    assert.equal((await viaRouter(routerUrl, 'both', '/env/FLAVOR')).text, 'berth.json');
    assert.equal((await viaRouter(routerUrl, 'both', '/env/MODE')).text, 'heroku');
    assert.deepEqual(await processes('both'), ['web.1 running']);
    const lines = await linesOfLatest('both');
    assert.match(lines, /^autoconfigure: set FLAVOR from berth\.json$/m);
    assert.match(lines, /^app\.json: set MODE to the values app\.json gives$/m);
  });
});
