// The data plane outlives the controller: an app keeps answering through the router while its
// controller is killed with SIGKILL and started again, and the new controller adopts the units
// and the router instead of restarting them. On PostgreSQL, with controllers as processes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { deploy, eventually, RequestLoop, viaRouter, type ApiCaller } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';
import { runBerth, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

function apiOf(server: ServerProcess): ApiCaller {
  return {
    async request(method, pathname, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers['authorization'] = `Bearer ${options.token}`;
      let body: string | Uint8Array | undefined;
      if (options.raw) {
        body = options.raw.data;
        headers['content-type'] = options.raw.contentType;
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const response = await fetch(`${server.url}/api/v1${pathname}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
  };
}

interface Unit {
  unit: string;
  startedAt: string;
  restarts: number;
  state: string;
}

describe('a controller crash does not touch running apps (PostgreSQL)', () => {
  let location: TestDatabase;
  let args: string[];

  before(async () => {
    location = await createTestDatabase('postgres');
    args = ['--data-dir', location.dataDir, '--database-url', location.databaseUrl!];
  });
  after(() => location.drop());

  it('keeps serving through kill -9 and restart, and the restarted controller adopts the units', async () => {
    const first = await startServerProcess(args);
    const token = readFileSync(path.join(location.dataDir, 'initial-admin-token'), 'utf8').trim();
    const api = apiOf(first);
    assert.equal(
      (await api.request('POST', '/apps', { token, body: { name: 'steady' } })).status,
      201,
    );
    const record = await deploy(api, token, 'steady', nodeHelloApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.equal(
      (await api.request('PATCH', '/apps/steady/formation', { token, body: { web: 2 } })).status,
      200,
    );
    await eventually('two units run', async () => {
      const units = (await api.request('GET', '/apps/steady/processes', { token })).body as Unit[];
      return units.filter((u) => u.state === 'running').length === 2;
    });
    const before = (await api.request('GET', '/apps/steady/processes', { token })).body as Unit[];

    const loop = new RequestLoop(first.routerUrl, 'steady', { connections: 4 });
    let second: ServerProcess | undefined;
    try {
      await eventually('requests flow', async () => loop.requests > 20);
      await first.stop('SIGKILL');
      const during = loop.requests;
      await eventually(
        'requests flow without a controller',
        async () => loop.requests > during + 50,
      );
      second = await startServerProcess(args);
      assert.equal(second.routerUrl, first.routerUrl, 'the same router serves');
      const again = loop.requests;
      await eventually('requests flow after the restart', async () => loop.requests > again + 50);
      // Let the new controller's reconciler look at the units at least once.
      await new Promise((resolve) => setTimeout(resolve, 2500));
    } finally {
      await loop.stop();
    }
    assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.requests} failed`);
    const api2 = apiOf(second);
    const now = (await api2.request('GET', '/apps/steady/processes', { token })).body as Unit[];
    assert.deepEqual(
      now.map((u) => [u.unit, u.startedAt, u.restarts]),
      before.map((u) => [u.unit, u.startedAt, u.restarts]),
      'the same units, never restarted',
    );
    assert.ok(second.logs.some((l) => l['msg'] === 'adopted the running router'));

    // The restarted controller runs the app as before: a scale goes through.
    assert.equal(
      (await api2.request('PATCH', '/apps/steady/formation', { token, body: { web: 1 } })).status,
      200,
    );
    await eventually('one unit runs', async () => {
      const units = (await api2.request('GET', '/apps/steady/processes', { token })).body as Unit[];
      return units.length === 1;
    });
    assert.equal((await viaRouter(second.routerUrl, 'steady')).text, 'hello from steady v1');
    assert.equal(await second.stop(), 0);
    // A controller stopped cleanly leaves the app serving too.
    assert.equal((await viaRouter(second.routerUrl, 'steady')).status, 200);
  });
});

describe('berth down', () => {
  it('stops the controller, the router and every unit of the data dir', async () => {
    const location = await createTestDatabase('sqlite');
    try {
      const server = await startServerProcess(['--data-dir', location.dataDir]);
      const token = readFileSync(path.join(location.dataDir, 'initial-admin-token'), 'utf8').trim();
      const api = apiOf(server);
      assert.equal(
        (await api.request('POST', '/apps', { token, body: { name: 'gone' } })).status,
        201,
      );
      const record = await deploy(api, token, 'gone', nodeHelloApp);
      assert.equal(record.status, 'succeeded', record.details.error ?? '');
      const units = (await api.request('GET', '/apps/gone/processes', { token })).body as Unit[];
      assert.equal(units.length, 1);

      const down = await runBerth(['down', '--data-dir', location.dataDir]);
      assert.equal(down.code, 0, down.stderr);
      assert.match(
        down.stdout,
        /stopped the controller \(pid \d+\); stopped the router; stopped 1 unit/,
      );
      assert.notEqual(
        server.child.exitCode ?? server.child.signalCode,
        null,
        'the controller exited',
      );
      await assert.rejects(viaRouter(server.routerUrl, 'gone'), /ECONNREFUSED/);
      const again = await runBerth(['down', '--data-dir', location.dataDir]);
      assert.match(
        again.stdout,
        /no controller was running; no router was running; stopped 0 unit/,
      );
    } finally {
      await location.drop();
    }
  });
});
