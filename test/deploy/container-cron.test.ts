// App cron on the container runtime (a real Podman through its Docker API), with a clock the
// test moves: a slot runs as a one-off container of the live release's image, with its config,
// and the run is listed with its exit code and output.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../../src/engine/index.js';
import { startTestServer, type TestServer } from '../support/api.js';
import { compiledDefaults } from '../support/compiled-defaults.js';
import { connectTestEngine, removeTestApps } from '../support/engine.js';
import { deploy } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';

const APPS = ['cronc1'];
let now = new Date('2026-05-01T08:00:30Z');

describe('cron on the container runtime (Podman through the Docker API)', () => {
  let server: TestServer;
  let engine: Engine;
  let token: string;

  before(async () => {
    ({ engine } = await connectTestEngine());
    server = await startTestServer('sqlite', {
      runtime: 'container',
      env: { BERTH_STOP_GRACE_MS: '3000', BERTH_DRAIN_TIMEOUT_MS: '3000' },
      compiled: { cron: { ...compiledDefaults.cron, checkIntervalMs: 100, clock: () => now } },
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

  it('runs a slot in a container of the live image, with the release env', async () => {
    await server.request('PATCH', '/apps/cronc1/config', { token, body: { GREETING: 'may' } });
    const deployed = await deploy(server, token, 'cronc1', {
      ...nodeHelloApp,
      'app.json': JSON.stringify({
        cron: [
          {
            id: 'hello',
            command: 'echo "cron v$BERTH_RELEASE says $GREETING as $(id -u)"; exit 5',
            schedule: '* * * * *',
          },
        ],
      }),
    });
    assert.equal(deployed.status, 'succeeded', deployed.details.error ?? '');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const listed = (await server.request('GET', '/apps/cronc1/cron', { token }))
        .body as unknown[];
      if (listed.length > 0) break;
      if (Date.now() > deadline) throw new Error('no schedules');
      await sleep(100);
    }
    now = new Date('2026-05-01T08:01:01Z');
    let run: Record<string, unknown> | undefined;
    while (Date.now() < deadline) {
      const runs = (await server.request('GET', '/apps/cronc1/cron/runs', { token })).body as Array<
        Record<string, unknown>
      >;
      if (runs[0] && runs[0]['status'] !== 'running') {
        run = runs[0];
        break;
      }
      await sleep(200);
    }
    assert.ok(run, 'the run ended');
    assert.equal(run['exitCode'], 5, JSON.stringify(run));
    assert.equal(run['status'], 'failed');
    assert.equal(run['release'], 1);
    assert.match(String(run['output']), /cron v1 says may as 10001/);
  });
});
