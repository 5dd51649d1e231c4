// Faults of running apps on the process runtime: a release whose process exits at once, a
// worker that keeps crashing, and a unit whose supervisor is killed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import { crashingApp, nodeHelloApp } from '../support/sample-apps.js';

interface Unit {
  type: string;
  index: number;
  state: string;
  unit: string;
  restarts: number;
}

describe('faults of running apps', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startTestServer('sqlite');
    token = server.adminToken;
  });
  after(() => server.close());

  const unitsOf = async (app: string): Promise<Unit[]> =>
    (await server.request('GET', `/apps/${app}/processes`, { token })).body as Unit[];

  it('fails a release whose process exits at once, with its last output in the reason', async () => {
    await server.request('POST', '/apps', { token, body: { name: 'crash1' } });
    const record = await deploy(server, token, 'crash1', crashingApp);
    assert.equal(record.status, 'failed');
    assert.match(record.details.error ?? '', /exited before it listened on PORT/);
    assert.match(record.details.error ?? '', /crashing on purpose/);
    assert.deepEqual(await unitsOf('crash1'), [], 'no unit is left behind');
  });

  it('marks a worker that keeps crashing as crashed, and leaves web serving', async () => {
    await server.request('POST', '/apps', { token, body: { name: 'flaky' } });
    const record = await deploy(server, token, 'flaky', {
      ...nodeHelloApp,
      ...crashingApp,
      'package.json': nodeHelloApp['package.json']!,
      Procfile: 'web: node server.js\nworker: node crash.js\n',
      'berth.json': JSON.stringify({ formation: { web: 1, worker: 1 } }),
    });
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    await eventually(
      'the worker is crashed',
      async () => {
        const worker = (await unitsOf('flaky')).find((u) => u.type === 'worker');
        return worker?.state === 'crashed' && worker.restarts >= 5;
      },
      30_000,
    );
    // The reconciler does not replace a crashed unit in a loop.
    const crashed = (await unitsOf('flaky')).find((u) => u.type === 'worker');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await unitsOf('flaky')).find((u) => u.type === 'worker')?.unit, crashed?.unit);
    assert.equal((await viaRouter(server.server.routerUrl, 'flaky')).text, 'hello from flaky v1');
  });

  it('replaces a unit whose supervisor was killed', async () => {
    await server.request('POST', '/apps', { token, body: { name: 'orphan' } });
    const record = await deploy(server, token, 'orphan', nodeHelloApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const [unit] = await unitsOf('orphan');
    assert.ok(unit);
    const file = path.join(server.location.dataDir, 'runtime', 'units', `${unit.unit}.json`);
    const supervisorPid = (
      JSON.parse(readFileSync(file, 'utf8')) as { supervisor: { pid: number } }
    ).supervisor.pid;
    process.kill(supervisorPid, 'SIGKILL');
    await eventually(
      'a new unit replaced the lost one',
      async () => {
        const units = await unitsOf('orphan');
        return units.length === 1 && units[0]?.unit !== unit.unit && units[0]?.state === 'running';
      },
      // Generous: CI runs two test files at once on two shared cores.
      60_000,
    );
    await eventually('the app answers', async () => {
      return (await viaRouter(server.server.routerUrl, 'orphan')).status === 200;
    });
  });
});
