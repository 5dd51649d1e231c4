// The reconciler and the deployer under load, on the process runtime: while one app rolls out
// 51 releases (a deploy, then 50 config changes the reconciler rolls out), first deploys of
// other apps go through untouched; a release the runtime refuses fails once, visibly, while the
// release before it keeps serving; and one it cannot place (no free port) is tried a bounded
// number of times and then fails the same way.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, storeConfigVarAsOlderBerth, type TestServer } from '../support/api.js';
import { cli, freshConfigHome } from '../support/cli.js';
import { deploy, eventually, RequestLoop, viaRouter } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';
import { WsTestClient } from '../support/ws-client.js';

interface Rollout {
  readonly liveVersion: number | null;
  readonly failedVersion: number | null;
  readonly failure: string | null;
}

/** The churning app's releases: its first deploy, then this many config changes. */
const CONFIG_CHANGES = 50;
/**
 * First deploys of other apps during the churn. Before the reconciler read the store after the
 * runtime, some of them failed ("exited before it listened on PORT") or lost their units right
 * after they succeeded (502 through the router): 1 of 16 in each of 2 runs, 8 of 31 in another.
 */
const FIRST_DEPLOYS = 16;

/** Unit ports of this server's own, above the other test servers' ranges. */
const PORTS = { from: 32700, to: 32739 };

describe('the reconciler and the deployer under load', () => {
  let server: TestServer;
  let token: string;
  /** Listeners that hold ports of the range, as another program on the host could. */
  const blockers: net.Server[] = [];

  before(async () => {
    server = await startTestServer('sqlite', {
      env: { BERTH_UNIT_PORTS: `${PORTS.from}-${PORTS.to}` },
    });
    token = server.adminToken;
  });
  after(async () => {
    for (const blocker of blockers) blocker.close();
    await server.close();
  });

  const createApp = async (name: string): Promise<{ id: string }> => {
    const created = await server.request('POST', '/apps', { token, body: { name } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string };
  };
  const rolloutOf = async (name: string): Promise<Rollout | undefined> =>
    ((await server.request('GET', `/apps/${name}`, { token })).body as { rollout?: Rollout })
      .rollout;
  /** Log lines of the server that name `app` and hold `text`. */
  const logLines = (app: string, text: string) =>
    server
      .logText()
      .split('\n')
      .filter((line) => line.includes(`"app":"${app}"`) && line.includes(text));

  /**
   * Changes the churning app's config `count` times, each time waiting until the reconciler
   * rolled the new release out: one rollout after the other, as long as the test needs.
   */
  const churn = async (app: string, from: number, count: number) => {
    for (let i = 1; i <= count; i++) {
      const patched = await server.request('PATCH', `/apps/${app}/config`, {
        token,
        body: { CHURN: String(from + i) },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const version = from + i;
      await eventually(`${app} serves v${version}`, async () => {
        return (await rolloutOf(app))?.liveVersion === version;
      });
    }
  };

  it('leaves alone the first deploys of apps with an active task while another app rolls out 51 releases', async () => {
    await createApp('churn');
    const first = await deploy(server, token, 'churn', nodeHelloApp);
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const loop = new RequestLoop(server.server.routerUrl, 'churn', { connections: 2 });
    const churning = churn('churn', 1, CONFIG_CHANGES);
    const fresh: { name: string; status: string; error: string | null; served: number }[] = [];
    try {
      // First deploys, two at a time (the deployer's concurrency), for as long as the churn
      // lasts.
      let n = 0;
      let done = false;
      void churning.finally(() => (done = true)).catch(() => undefined);
      const deployFresh = async () => {
        while (!done && n < FIRST_DEPLOYS) {
          const name = `fresh-${++n}`;
          await createApp(name);
          const record = await deploy(server, token, name, nodeHelloApp);
          const served = (await viaRouter(server.server.routerUrl, name)).status;
          fresh.push({ name, status: record.status, error: record.details.error, served });
          // Destroyed once checked, so that the unit ports last the churn.
          const destroyed = await server.request('DELETE', `/apps/${name}`, { token });
          assert.equal(destroyed.status, 204, JSON.stringify(destroyed.body));
        }
      };
      await Promise.all([deployFresh(), deployFresh()]);
      await churning;
    } finally {
      await loop.stop();
    }
    assert.ok(fresh.length >= 6, `only ${fresh.length} first deploys ran during the churn`);
    assert.deepEqual(
      fresh.filter((f) => f.status !== 'succeeded' || f.served !== 200),
      [],
      `of ${fresh.length} first deploys`,
    );
    for (const { name } of fresh) {
      assert.deepEqual(logLines(name, 'stopping units of an app that is not deployed'), []);
    }
    assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.requests} failed`);
    assert.equal((await rolloutOf('churn'))?.liveVersion, CONFIG_CHANGES + 1);
  });

  it('fails a release the runtime refuses once, visibly, while the one before keeps serving', async () => {
    const app = await createApp('refused');
    const first = await deploy(server, token, 'refused', nodeHelloApp);
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const ws = await WsTestClient.connect(server.url);
    assert.ok((await ws.call('login', { token }))['result']);
    assert.ok((await ws.call('watch', { app: 'refused' }))['result']);
    const loop = new RequestLoop(server.server.routerUrl, 'refused', { connections: 2 });
    const live = CONFIG_CHANGES + 1;
    const churning = churn('churn', live, 5);
    try {
      // As an older Berth stored it: the API refuses keys the runtime sets itself.
      await storeConfigVarAsOlderBerth(server, app.id, 'BERTH_APP', 'other');
      const set = await server.request('PATCH', '/apps/refused/config', {
        token,
        body: { OTHER: '1' },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      await eventually('the failed rollout is recorded', async () => {
        return (await rolloutOf('refused'))?.failedVersion === 2;
      });
      // The app's watchers are told: its rollout record changed.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const pushed = await ws.nextPush(Math.max(1, deadline - Date.now()));
        if ((pushed.event as { kind?: string } | undefined)?.kind === 'rollout') break;
      }
      // Several reconciler passes (one every 2 s) while the other app goes on rolling out.
      await Promise.all([churning, sleep(5000)]);
    } finally {
      ws.close();
      await loop.stop();
    }
    const rollout = await rolloutOf('refused');
    assert.equal(rollout?.liveVersion, 1);
    assert.match(rollout?.failure ?? '', /env key BERTH_APP is set by the runtime/);
    assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.requests} failed`);
    assert.deepEqual([...loop.bodies.keys()], ['hello from refused v1']);
    assert.equal(logLines('refused', 'rolling out a new release').length, 1, 'tried once');
    const ps = await cli(['ps', 'refused'], {
      env: { BERTH_SERVER: server.url, BERTH_TOKEN: token, XDG_CONFIG_HOME: freshConfigHome() },
    });
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^web\.1 +running +v1 /m);
    assert.match(
      ps.stdout,
      /^rollout of v2 failed \(v1 serves\): the runtime refuses the units of v2: env key BERTH_APP is set by the runtime/m,
    );
  });

  /** Takes every port of the range that is free, as another program on the host would. */
  const takeFreePorts = async () => {
    for (let port = PORTS.from; port <= PORTS.to; port++) {
      const blocker = net.createServer();
      const taken = await new Promise<boolean>((resolve) => {
        blocker.once('error', () => resolve(false));
        blocker.listen({ port, host: '::' }, () => resolve(true));
      });
      if (taken) blockers.push(blocker);
    }
  };

  it('tries a rollout the runtime cannot place a bounded number of times, then fails it once', async () => {
    await createApp('tight');
    const record = await deploy(server, token, 'tight', nodeHelloApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    await takeFreePorts();
    const loop = new RequestLoop(server.server.routerUrl, 'tight', { connections: 2 });
    let rollout: Rollout | undefined;
    try {
      const set = await server.request('PATCH', '/apps/tight/config', {
        token,
        body: { OTHER: '1' },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      // Tries after 0, 2 and 8 more seconds, then the failure is recorded.
      await eventually(
        'the failed rollout is recorded',
        async () => (rollout = await rolloutOf('tight'))?.failedVersion === 2,
        20_000,
      );
      // No try after that.
      await sleep(2500);
    } finally {
      await loop.stop();
    }
    assert.equal(rollout?.liveVersion, 1);
    assert.match(rollout?.failure ?? '', /no free port/);
    assert.equal(logLines('tight', 'rolling out a new release').length, 3, 'three tries');
    assert.equal(logLines('tight', 'it is tried again').length, 2);
    assert.equal((await rolloutOf('tight'))?.failedVersion, 2);
    assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.requests} failed`);
    assert.deepEqual([...loop.bodies.keys()], ['hello from tight v1']);
  });
});
