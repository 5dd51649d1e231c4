// A creation the controller did not live to finish leaves a row without a port: the next
// controller removes it and what its server made, so that the name is free and nothing half
// made is ever attached or listed as running.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logging/index.js';
import { compileServerOptions, startServer } from '../../src/server/index.js';
import { startTestServer, testUnitPorts, type TestServer } from '../support/api.js';

describe('an add-on creation cut off by the controller', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  it('is removed whole by the next controller, and the name can be used again', async () => {
    const token = server.adminToken;
    const created = await server.request('POST', '/addons', {
      token,
      body: { kind: 'redis', name: 'half' },
    });
    assert.equal(created.status, 201);
    // What a controller killed between the row and the server's start leaves: no port yet.
    await server.server.store.db
      .updateTable('addons')
      .set({ port: 0, version: '' })
      .where('name', '=', 'half')
      .execute();
    const listed = (await server.request('GET', '/addons', { token })).body as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      listed.map((a) => [a.name, a.status]),
      [['half', 'creating']],
    );
    await server.server.close();

    const dir = path.join(server.location.dataDir, 'addons', 'half');
    assert.ok(existsSync(dir));
    const again = await startServer(
      compileServerOptions(
        {
          'data-dir': server.location.dataDir,
          listen: '127.0.0.1:0',
          'router-listen': '127.0.0.1:0',
          'ssh-listen': 'off',
        },
        { BERTH_UNIT_PORTS: testUnitPorts() },
      ),
      createLogger({ level: 'error' }),
    );
    try {
      const call = (method: string, pathname: string, body?: unknown) =>
        fetch(`${again.apiUrl}/api/v1${pathname}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      const deadline = Date.now() + 30_000;
      let names: string[] = ['half'];
      while (names.length > 0 && Date.now() < deadline) {
        names = ((await (await call('GET', '/addons')).json()) as { name: string }[]).map(
          (a) => a.name,
        );
        if (names.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(names, [], 'the half-made add-on is gone');
      assert.equal(existsSync(dir), false, 'and so is what its server made');
      const remade = await call('POST', '/addons', { kind: 'redis', name: 'half' });
      assert.equal(remade.status, 201, await remade.text());
    } finally {
      await again.close();
    }
  });
});
