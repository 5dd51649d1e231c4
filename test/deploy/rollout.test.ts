// Zero-downtime rollouts on the process runtime, measured through the router with a loop of
// requests running throughout: redeploys, a release that fails its health check, config
// changes, rollback, scaling, and a unit killed with SIGKILL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { deploy, eventually, RequestLoop, viaRouter, waitForTask } from '../support/platform.js';
import { failingHealthApp, nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface Unit {
  type: string;
  index: number;
  state: string;
  release: number;
  unit: string;
  restarts: number;
  address: string;
}

describe('rollouts without downtime', () => {
  let server: TestServer;
  let token: string;
  let routerUrl: string;

  before(async () => {
    server = await startTestServer('sqlite');
    token = server.adminToken;
    routerUrl = server.server.routerUrl;
    assert.equal(
      (await server.request('POST', '/apps', { token, body: { name: 'app1' } })).status,
      201,
    );
  });
  after(() => server.close());

  const units = async (): Promise<Unit[]> =>
    (await server.request('GET', '/apps/app1/processes', { token })).body as Unit[];

  it('redeploys under continuous load with zero failed requests', async () => {
    const first = await deploy(server, token, 'app1', withVersion(nodeHelloApp, 'one'));
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const loop = new RequestLoop(routerUrl, 'app1', { connections: 4 });
    try {
      await eventually('requests flow', async () => loop.requests > 20);
      for (const marker of ['two', 'three']) {
        const record = await deploy(server, token, 'app1', withVersion(nodeHelloApp, marker));
        assert.equal(record.status, 'succeeded', record.details.error ?? '');
      }
      const before = loop.requests;
      await eventually('requests reach v3', async () => loop.requests > before + 20);
    } finally {
      await loop.stop();
    }
    assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.requests} failed`);
    assert.ok(loop.bodies.has('hello from app1 v1'));
    assert.ok(loop.bodies.has('hello from app1 v3'));
    const now = await units();
    assert.deepEqual(
      now.map((u) => [u.type, u.release]),
      [['web', 3]],
      'the old units are gone',
    );
  });

  it('keeps the old release serving when the new one fails its health check', async () => {
    const loop = new RequestLoop(routerUrl, 'app1', { connections: 4 });
    let record;
    try {
      await eventually('requests flow', async () => loop.requests > 20);
      record = await deploy(server, token, 'app1', failingHealthApp);
      const before = loop.requests;
      await eventually('more requests', async () => loop.requests > before + 20);
    } finally {
      await loop.stop();
    }
    assert.equal(record.status, 'failed');
    assert.match(record.details.error ?? '', /health check/);
    assert.match(record.details.error ?? '', /previous release keeps serving/);
    assert.deepEqual(loop.failures, []);
    assert.deepEqual([...loop.bodies.keys()], ['hello from app1 v3']);
    const now = await units();
    assert.deepEqual(
      now.map((u) => u.release),
      [3],
      'the failed release left no unit behind',
    );
    // The reconciler does not retry the failed release on its own.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(
      (await units()).map((u) => u.release),
      [3],
    );
  });

  it('rolls a new release when the config changes, and the units see it', async () => {
    const patch = await server.request('PATCH', '/apps/app1/config', {
      token,
      body: { GREETING: 'bonjour' },
    });
    assert.equal(patch.status, 200);
    await eventually('the unit sees GREETING', async () => {
      const reply = await viaRouter(routerUrl, 'app1', '/env/GREETING');
      return reply.status === 200 && reply.text === 'bonjour';
    });
    // v4 failed its rollout, so the config change made v5 from v3, the release that served.
    await eventually('only v5 units run', async () => {
      const now = await units();
      return now.length === 1 && now[0]?.release === 5;
    });
  });

  it('rolls back to an older release without rebuilding', async () => {
    const rollback = await server.request('POST', '/apps/app1/rollback', {
      token,
      body: { version: 1 },
    });
    assert.equal(rollback.status, 201, JSON.stringify(rollback.body));
    await eventually('v1 code serves again', async () => {
      const reply = await viaRouter(routerUrl, 'app1', '/version');
      return reply.text === 'one';
    });
    assert.equal((await viaRouter(routerUrl, 'app1', '/env/GREETING')).text, 'bonjour');
  });

  it('scales web 1 → 3 → 1, spreading requests over the units', async () => {
    const up = await server.request('PATCH', '/apps/app1/formation', { token, body: { web: 3 } });
    assert.equal(up.status, 200);
    assert.equal((up.body as { web: { count: number } }).web.count, 3);
    await eventually('three web units run', async () => {
      const now = await units();
      return now.filter((u) => u.type === 'web' && u.state === 'running').length === 3;
    });
    const loop = new RequestLoop(routerUrl, 'app1', { connections: 4 });
    try {
      await eventually('requests flow', async () => loop.requests > 30);
      const down = await server.request('PATCH', '/apps/app1/formation', {
        token,
        body: { web: { count: 1 } },
      });
      assert.equal(down.status, 200);
      await eventually('one web unit runs', async () => (await units()).length === 1);
      const before = loop.requests;
      await eventually('more requests', async () => loop.requests > before + 20);
    } finally {
      await loop.stop();
    }
    assert.deepEqual(loop.failures, [], 'scaling down drops no request');
    const formation = await server.request('GET', '/apps/app1/formation', { token });
    assert.deepEqual(formation.body, { web: { count: 1, memory: null, cpu: null } });
  });

  it('replaces a unit killed with SIGKILL', async () => {
    const [unit] = await units();
    assert.ok(unit);
    const logs = await server.request('GET', '/apps/app1/logs?tail=200', { token });
    const started = (logs.body as { unit: string; text: string }[])
      .filter((l) => l.unit === unit.unit && /^started \(pid \d+\)/.test(l.text))
      .at(-1);
    const pid = Number(/pid (\d+)/.exec(started?.text ?? '')?.[1]);
    assert.ok(pid > 0, 'the log names the unit pid');
    process.kill(pid, 'SIGKILL');
    await eventually('the unit runs again', async () => {
      const [now] = await units();
      return now !== undefined && now.state === 'running' && now.restarts >= 1;
    });
    await eventually('the app answers again', async () => {
      return (await viaRouter(routerUrl, 'app1')).status === 200;
    });
  });

  it('undeploys: no route, no unit', async () => {
    const deployment = await server.request('DELETE', '/deployments/app1', { token });
    assert.equal(deployment.status, 204);
    const record = await waitForTask(server, token, 'app1');
    assert.equal(record.status, 'succeeded');
    assert.equal((await viaRouter(routerUrl, 'app1')).status, 404);
    assert.deepEqual(await units(), []);
  });
});
