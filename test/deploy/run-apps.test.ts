// End to end on the process runtime: bundles of a Node app, a Python app, a static site and a
// WebSocket app are built, run and fetched through the builtin router; logs, one-off runs,
// failed builds and undeploy, with real processes and real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../support/api.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import {
  failingBuildApp,
  nodeAppWithBuild,
  nodeHelloApp,
  nodeWebSocketApp,
  nodeWorkerApp,
  pythonHelloApp,
  staticSite,
} from '../support/sample-apps.js';
import { WsTestClient } from '../support/ws-client.js';

describe('apps on the process runtime, through the builtin router', () => {
  let server: TestServer;
  let token: string;
  let routerUrl: string;

  before(async () => {
    server = await startTestServer('sqlite');
    token = server.adminToken;
    routerUrl = server.server.routerUrl;
  });
  after(() => server.close());

  async function createApp(name: string): Promise<void> {
    const reply = await server.request('POST', '/apps', { token, body: { name } });
    assert.equal(reply.status, 201);
  }

  it('deploys a Node app that answers through the router, with its steps recorded', async () => {
    await createApp('node1');
    const record = await deploy(server, token, 'node1', nodeHelloApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.deepEqual(
      record.details.steps.map((s) => `${s.name}:${s.status}`),
      ['validate', 'build', 'release', 'rollout', 'finalize'].map((n) => `${n}:succeeded`),
    );
    const reply = await viaRouter(routerUrl, 'node1');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'hello from node1 v1');
    assert.match(String(reply.headers['x-request-id']), /\S+/);

    const processes = await server.request('GET', '/apps/node1/processes', { token });
    assert.equal(processes.status, 200);
    const units = processes.body as {
      type: string;
      index: number;
      state: string;
      release: number;
    }[];
    assert.deepEqual(
      units.map((u) => [u.type, u.index, u.state, u.release]),
      [['web', 1, 'running', 1]],
    );
  });

  it('deploys a Python app in a venv', async () => {
    await createApp('py1');
    const record = await deploy(server, token, 'py1', pythonHelloApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.equal((await viaRouter(routerUrl, 'py1')).text, 'hello from python py1 v1');
    assert.match((await viaRouter(routerUrl, 'py1', '/venv')).text, /\.venv$/);
  });

  it('serves a static site from the router itself, with no unit', async () => {
    await createApp('site1');
    const record = await deploy(server, token, 'site1', {
      ...staticSite,
      'berth.json': JSON.stringify({ name: 'site1', description: 'a site' }),
      'app.json': '{"name":"site1"}',
      'deploy.sh': 'echo deploying\n',
      '.berthignore': 'drafts\n',
    });
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    for (const unpublished of ['/berth.json', '/app.json', '/deploy.sh', '/.berthignore']) {
      const reply = await viaRouter(routerUrl, 'site1', unpublished);
      assert.equal(reply.status, 404, `${unpublished} is not part of the site`);
    }
    assert.equal((await viaRouter(routerUrl, 'site1', '/css/site.css')).status, 200);
    const home = await viaRouter(routerUrl, 'site1', '/');
    assert.equal(home.status, 200);
    assert.match(home.text, /static home/);
    assert.match(String(home.headers['content-type']), /text\/html/);
    assert.match((await viaRouter(routerUrl, 'site1', '/docs/guide/')).text, /nested guide/);
    assert.equal((await viaRouter(routerUrl, 'site1', '/missing.html')).status, 404);
    const processes = await server.request('GET', '/apps/site1/processes', { token });
    assert.deepEqual(processes.body, []);
  });

  it('serves only the public/ folder of a site that has one', async () => {
    await createApp('site2');
    const record = await deploy(server, token, 'site2', {
      'berth.json': JSON.stringify({ name: 'site2' }),
      'public/index.html': '<h1>public home</h1>',
      'public/css/app.css': 'body{}',
      'README.md': 'how this site is made',
      'scripts/publish.js': 'console.log("publish")',
    });
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.match((await viaRouter(routerUrl, 'site2', '/')).text, /public home/);
    assert.equal((await viaRouter(routerUrl, 'site2', '/css/app.css')).status, 200);
    for (const outside of ['/berth.json', '/README.md', '/scripts/publish.js', '/public/']) {
      const reply = await viaRouter(routerUrl, 'site2', outside);
      assert.equal(reply.status, 404, `${outside} is outside public/`);
    }
  });

  it('runs the build script, streaming its output into the step log', async () => {
    await createApp('built1');
    const record = await deploy(server, token, 'built1', nodeAppWithBuild);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const task = await server.request('GET', '/apps/built1/deployments', { token });
    assert.equal(task.status, 200);
    const reply = await viaRouter(routerUrl, 'built1');
    if (reply.status !== 200) {
      for (const a of ['node1', 'py1', 'built1'])
        console.log(
          a,
          JSON.stringify((await server.request('GET', `/apps/${a}/processes`, { token })).body),
          JSON.stringify((await server.request('GET', `/apps/${a}/logs`, { token })).body).slice(
            0,
            1500,
          ),
        );
      console.log(reply.text);
    }
    assert.equal(reply.status, 200);
  });

  it('fails a task whose build fails, with the build output, and makes no release', async () => {
    await createApp('badbuild');
    const record = await deploy(server, token, 'badbuild', failingBuildApp);
    assert.equal(record.status, 'failed');
    assert.equal(record.release, null);
    assert.match(record.details.error ?? '', /build failed/);
    const releases = await server.request('GET', '/apps/badbuild/releases', { token });
    assert.deepEqual(releases.body, []);
    assert.equal((await viaRouter(routerUrl, 'badbuild')).status, 404);
  });

  it('upgrades WebSocket connections through the router', async () => {
    await createApp('ws1');
    const record = await deploy(server, token, 'ws1', nodeWebSocketApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const url = routerUrl.replace(/^http/, 'ws');
    const socket = new WebSocket(`${url}/echo`, { headers: { host: 'ws1.localhost' } });
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send('ping through berth'));
      socket.once('message', (data: Buffer) => resolve(data.toString()));
      socket.once('error', reject);
    });
    socket.close();
    assert.equal(echoed, 'ping through berth');
  });

  it('shows logs with the process type and unit, follows them live, and runs one-off commands', async () => {
    await createApp('logs1');
    const record = await deploy(server, token, 'logs1', nodeWorkerApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const scaled = await server.request('PATCH', '/apps/logs1/formation', {
      token,
      body: { worker: 1 },
    });
    assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
    await eventually('the worker has logged', async () => {
      const logs = await server.request('GET', '/apps/logs1/logs?tail=50&process=worker', {
        token,
      });
      const lines = logs.body as { type: string; text: string }[];
      return lines.some((l) => l.type === 'worker' && /worker tick/.test(l.text));
    });
    const web = await server.request('GET', '/apps/logs1/logs?tail=50&process=web', { token });
    assert.ok((web.body as { type: string }[]).every((l) => l.type === 'web'));

    const client = await WsTestClient.connect(server.url);
    try {
      assert.ok('result' in (await client.call('login', { token })));
      const follow = await client.call('logs', { app: 'logs1', process: 'worker' });
      assert.ok('result' in follow, JSON.stringify(follow));
      const pushed = await client.nextPush(5000);
      assert.equal(pushed.event?.['kind'], 'log');
      assert.equal(pushed.event?.['type'], 'worker');
      assert.match(String(pushed.event?.['text']), /worker tick/);
    } finally {
      client.close();
    }

    const run = await server.request('POST', '/apps/logs1/run', {
      token,
      body: { command: 'echo "app=$BERTH_APP"; echo to-stderr >&2; exit 3' },
    });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    const result = run.body as { exitCode: number; output: string; release: number };
    assert.equal(result.exitCode, 3);
    assert.equal(result.release, 1);
    assert.match(result.output, /app=logs1/);
    assert.match(result.output, /to-stderr/);

    const argv = await server.request('POST', '/apps/logs1/run', {
      token,
      body: { command: ['node', '-e', 'console.log(process.argv.length)'] },
    });
    assert.equal((argv.body as { output: string }).output.trim(), '1');

    const timedOut = await server.request('POST', '/apps/logs1/run', {
      token,
      body: { command: 'sleep 30', timeoutSeconds: 1 },
    });
    assert.equal((timedOut.body as { timedOut: boolean }).timedOut, true);
  });

  it('refuses bad runtime input with precise errors', async () => {
    await createApp('bad1');
    const cases: [string, string, unknown, number][] = [
      ['PATCH', '/apps/bad1/formation', { web: 1 }, 409],
      ['PATCH', '/apps/node1/formation', { nope: 1 }, 400],
      ['PATCH', '/apps/node1/formation', { web: -1 }, 400],
      ['PATCH', '/apps/node1/formation', { web: 101 }, 400],
      ['PATCH', '/apps/node1/formation', { web: { memory: 'lots' } }, 400],
      ['PATCH', '/apps/node1/formation', { web: { count: 1, extra: true } }, 400],
      ['PATCH', '/apps/node1/formation', {}, 400],
      ['POST', '/apps/bad1/run', { command: 'true' }, 409],
      ['POST', '/apps/node1/run', { command: '' }, 400],
      ['POST', '/apps/node1/run', { command: 'true', timeoutSeconds: 0 }, 400],
      ['POST', '/apps/nope/run', { command: 'true' }, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const reply = await server.request(method, path, { token, body });
      assert.equal(
        reply.status,
        status,
        `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(reply.body)}`,
      );
    }
    const logs = await server.request('GET', '/apps/node1/logs?tail=abc', { token });
    assert.equal(logs.status, 400);
    // Nothing changed the running app.
    assert.equal((await viaRouter(routerUrl, 'node1')).text, 'hello from node1 v1');
  });

  it('undeploys: units stop, the route goes, the app and its releases stay', async () => {
    const reply = await server.request('DELETE', '/deployments/node1', { token });
    assert.equal(reply.status, 204);
    await eventually('node1 is undeployed', async () => {
      const task = await server.request('GET', '/deployments/node1', { token });
      return task.status === 200 && (task.body as { status: string }).status === 'succeeded';
    });
    assert.equal((await viaRouter(routerUrl, 'node1')).status, 404);
    const processes = await server.request('GET', '/apps/node1/processes', { token });
    assert.deepEqual(processes.body, []);
    const releases = await server.request('GET', '/apps/node1/releases', { token });
    assert.equal((releases.body as unknown[]).length, 1);
  });
});
