// Faults of the container runtime on a Podman service of the test's own, which it stops and
// starts again: the app keeps serving through the router while the engine is gone, a deploy
// then fails with a clear reason and leaves nothing half-made, and once the engine is back
// the controller follows its events again and deploys. Also bundles asking for host access.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectEngine } from '../../src/engine/index.js';
import { stopDataPlane } from '../../src/server/index.js';
import { startTestServer, type TestServer } from '../support/api.js';
import { tarGzBundle } from '../support/bundles.js';
import { removeTestApps } from '../support/engine.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import { startPodmanService, type PodmanService } from '../support/podman-service.js';
import { nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface Unit {
  unit: string;
  release: number;
  state: string;
}

describe('container runtime faults: the engine stops and comes back', () => {
  let dir: string;
  let podman: PodmanService;
  /** Whether the test's engine runs now (a test stops it and starts it again). */
  let engineUp = false;
  let server: TestServer;
  let token: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-engine-'));
    podman = await startPodmanService({ dir });
    engineUp = true;
    server = await startTestServer('sqlite', {
      runtime: 'container',
      engineSocket: podman.socket,
      // An image no engine has: add-ons are refused (the test below).
      env: { BERTH_REDIS_IMAGE: 'localhost/berth-test/absent-redis:none' },
    });
    token = server.adminToken;
    const created = await server.request('POST', '/apps', { token, body: { name: 'steady1' } });
    assert.equal(created.status, 201);
  });
  after(async () => {
    if (!engineUp) podman = await startPodmanService({ dir });
    await server.close();
    const { engine } = await connectEngine({ socket: podman.socket });
    await removeTestApps(engine, ['steady1']);
    await podman.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const units = async (): Promise<Unit[]> =>
    (await server.request('GET', '/apps/steady1/processes', { token })).body as Unit[];

  it('keeps serving while the engine is gone, fails a deploy clearly, and deploys once it is back', async () => {
    const routerUrl = server.server.routerUrl;
    const first = await deploy(server, token, 'steady1', withVersion(nodeHelloApp, 'one'));
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const before = await units();
    assert.equal(before.length, 1);

    await podman.stop();
    engineUp = false;
    assert.equal((await viaRouter(routerUrl, 'steady1')).text, 'hello from steady1 v1');
    const failed = await deploy(server, token, 'steady1', withVersion(nodeHelloApp, 'two'));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.release, null, 'no release without an image');
    assert.match(failed.details.error ?? '', /container engine does not answer/);
    assert.equal((await viaRouter(routerUrl, 'steady1')).text, 'hello from steady1 v1');

    podman = await startPodmanService({ dir });
    engineUp = true;
    const again = await deploy(server, token, 'steady1', withVersion(nodeHelloApp, 'three'));
    assert.equal(again.status, 'succeeded', again.details.error ?? '');
    assert.equal(
      (await viaRouter(routerUrl, 'steady1')).text,
      `hello from steady1 v${again.release}`,
    );
    const after = await units();
    assert.deepEqual(
      after.map((u) => [u.release, u.state]),
      [[again.release, 'running']],
      'one unit of the new release, nothing left of the failed deploy',
    );
  });

  it('sees exits again after the engine came back: a killed unit is restarted', async () => {
    const [unit] = await units();
    assert.ok(unit);
    const { engine } = await connectEngine({ socket: podman.socket });
    await engine.getContainer(`berth-${unit.unit}`).kill({ signal: 'SIGKILL' });
    await eventually('the unit restarted', async () => {
      const [now] = (await server.request('GET', '/apps/steady1/processes', { token })).body as {
        restarts: number;
        state: string;
      }[];
      return now?.restarts === 1 && now.state === 'running';
    });
  });

  it('refuses a berth.json that asks for privileged mode, a host port or a mount, at upload', async () => {
    const before = (await server.request('GET', '/apps/steady1/deployments', { token }))
      .body as unknown[];
    for (const [field, value] of [
      ['privileged', true],
      ['ports', ['80:80']],
      ['volumes', ['/:/host']],
    ] as const) {
      const bundle = await tarGzBundle({
        ...nodeHelloApp,
        'berth.json': JSON.stringify({ [field]: value }),
      });
      const reply = await server.request('POST', '/deployments/steady1', {
        token,
        raw: { data: bundle, contentType: 'application/gzip' },
      });
      assert.equal(reply.status, 400);
      const error = (reply.body as { error: { code: string; reason: string; message: string } })
        .error;
      assert.equal(error.code, 'BUNDLE_INVALID');
      assert.equal(error.reason, 'BERTH_JSON_HOST_ACCESS');
      assert.match(error.message, new RegExp(`'${field}' is refused`));
    }
    const after = (await server.request('GET', '/apps/steady1/deployments', { token }))
      .body as unknown[];
    assert.equal(after.length, before.length, 'no task was queued');
  });

  it('refuses an add-on clearly when the engine has no image for it, and makes nothing', async () => {
    const reply = await server.request('POST', '/addons', { token, body: { kind: 'redis' } });
    assert.equal(reply.status, 409);
    const error = (reply.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'ADDONS_UNAVAILABLE');
    assert.match(
      error.message,
      /the engine has no localhost\/berth-test\/absent-redis:none image: pull localhost\/berth-test\/absent-redis:none$/,
    );
    assert.deepEqual((await server.request('GET', '/addons', { token })).body, []);
  });

  // Last: it stops the controller and the router; after() starts the engine again and stops
  // the containers the failed down could not reach.
  it('berth down with the engine gone still stops the router, then names that engine', async () => {
    const routerUrl = server.server.routerUrl;
    assert.equal((await viaRouter(routerUrl, 'steady1')).text.startsWith('hello'), true);
    await podman.stop();
    engineUp = false;
    await server.server.close();
    await assert.rejects(stopDataPlane(server.location.dataDir, 1000), (error: Error) => {
      assert.match(
        error.message,
        /^stopped 0 process unit\(s\) and the router, but not the containers/,
      );
      assert.ok(
        error.message.includes(`(${podman.socket}, from containers/engine.json)`),
        error.message,
      );
      assert.match(error.message, /does not answer; start it and run 'berth down' again/);
      return true;
    });
    await assert.rejects(fetch(routerUrl), 'the router was stopped all the same');
  });
});
