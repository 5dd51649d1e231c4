// The release phase on the container runtime (a real Podman through its Docker API), whose
// one-offs are containers of the release's image: it runs before the units with the release's
// config, is no unit, and a failing one fails the deploy with the old release answering every
// request of a loop.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '../../src/engine/index.js';
import { startTestServer, type TestServer } from '../support/api.js';
import { connectTestEngine, removeTestApps } from '../support/engine.js';
import { deploy, RequestLoop, viaRouter } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';

const APPS = ['relc1'];

describe('the release phase on the container runtime (Podman through the Docker API)', () => {
  let server: TestServer;
  let engine: Engine;
  let token: string;

  const linesOfLatest = async (app: string): Promise<string> => {
    const [newest] = (await server.request('GET', `/apps/${app}/deployments`, { token })).body as {
      id: string;
    }[];
    const page = (
      await server.request('GET', `/apps/${app}/deployments/${newest?.id ?? ''}/events`, {
        token,
      })
    ).body as { events: { text?: string }[] };
    return page.events.map((e) => e.text ?? '').join('\n');
  };

  before(async () => {
    ({ engine } = await connectTestEngine());
    server = await startTestServer('sqlite', {
      runtime: 'container',
      env: { BERTH_STOP_GRACE_MS: '3000', BERTH_DRAIN_TIMEOUT_MS: '3000' },
    });
    token = server.adminToken;
    for (const name of APPS) {
      const reply = await server.request('POST', '/apps', { token, body: { name } });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
  });
  after(async () => {
    await server.close();
    await removeTestApps(engine, APPS);
  });

  it('runs it in a container of the new image before the units; a failure keeps v1 serving', async () => {
    const reply = await server.request('PATCH', '/apps/relc1/config', {
      token,
      body: { GREETING: 'hello' },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const first = await deploy(server, token, 'relc1', {
      ...nodeHelloApp,
      Procfile:
        'web: node server.js\nrelease: echo "release of v$BERTH_RELEASE says $GREETING in $(pwd)"\n',
    });
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const lines = await linesOfLatest('relc1');
    const v = first.release ?? 0;
    assert.match(lines, new RegExp(`^release: release of v${v} says hello in /`, 'm'));
    assert.ok(lines.indexOf('release: done') < lines.indexOf('web: starting'), lines);
    const units = (await server.request('GET', '/apps/relc1/processes', { token })).body as {
      type: string;
    }[];
    assert.deepEqual(
      units.map((u) => u.type),
      ['web'],
    );
    // The one-off's container is gone once it ended.
    const oneOffs = await engine.listContainers({
      all: true,
      filters: { label: ['berth.app=relc1', 'berth.kind=one-off'] },
    });
    assert.deepEqual(oneOffs, []);

    const loop = new RequestLoop(server.server.routerUrl, 'relc1', { connections: 4 });
    const failing = await deploy(server, token, 'relc1', {
      ...nodeHelloApp,
      'VERSION.txt': 'two',
      Procfile: 'web: node server.js\nrelease: echo "cannot migrate" >&2; exit 5\n',
    });
    await loop.stop();
    assert.equal(failing.status, 'failed');
    assert.match(
      failing.details.error ?? '',
      new RegExp(
        `^v${v + 1} did not roll out: release \\(.*\\) exited with code 5; ` +
          `last output: cannot migrate; no unit of v${v + 1} started; the previous release keeps serving$`,
      ),
    );
    assert.deepEqual(loop.failures, []);
    assert.ok(loop.requests > 10, `only ${loop.requests} requests`);
    assert.equal(
      (await viaRouter(server.server.routerUrl, 'relc1')).text,
      `hello from relc1 v${v}`,
    );
  });
});
