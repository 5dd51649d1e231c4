import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  RouterAlreadyRunningError,
  RouterClient,
  RouterRequestError,
  RouterUnavailableError,
  ROUTES_FILE,
} from '../../src/router/index.js';
import { request, startTestRouter, startUpstream, unitsRoute } from './support/fixtures.js';
import { compiledDefaults } from '../support/compiled-defaults.js';

/** A raw PUT on the control socket, so malformed bodies can be sent. */
function putRaw(socketPath: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'PUT', path: '/routes' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('builtin router: control socket', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-router-control-'));
    dirs.push(dir);
    return dir;
  }

  it('answers health, keeps the socket private and writes router.pid', async () => {
    const dir = await tempDir();
    const router = await startTestRouter({ dir });
    try {
      const health = await router.client.health();
      assert.equal(health.pid, process.pid);
      assert.equal(health.generation, 0);
      assert.equal(health.listen, `127.0.0.1:${router.port}`);
      assert.equal((await stat(router.router.controlSocket)).mode & 0o777, 0o600);
      const pidFile = JSON.parse(await readFile(path.join(dir, 'router.pid'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(pidFile['pid'], process.pid);
      assert.match(String(pidFile['startTime']), /^\d+$/);
      assert.equal(pidFile['listen'], health.listen);
      await assert.rejects(startTestRouter({ dir }), RouterAlreadyRunningError);
    } finally {
      await router.close();
    }
    await assert.rejects(stat(path.join(dir, 'router.pid')), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(dir, 'control.sock')), { code: 'ENOENT' });
    await assert.rejects(
      new RouterClient({
        controlSocket: path.join(dir, 'control.sock'),
        timeoutMs: compiledDefaults.routerControlTimeoutMs,
      }).health(),
      (error: unknown) => error instanceof RouterUnavailableError && error.message.includes(dir),
    );
  });

  it('refuses malformed tables with 400 and a message, and older generations with 409', async () => {
    const router = await startTestRouter({ dir: await tempDir() });
    try {
      const socket = router.router.controlSocket;
      const cases: [string, RegExp][] = [
        ['not json', /not JSON/],
        ['[]', /table: must be an object/],
        ['{"generation":-1,"routes":[]}', /generation/],
        ['{"generation":1.5,"routes":[]}', /generation/],
        ['{"generation":1}', /routes: must be an array/],
        ['{"generation":1,"routes":[],"extra":1}', /unknown field 'extra'/],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":[],"target":{"kind":"units","upstreams":[]}}]}',
          /at least one host/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["A.localhost"],"target":{"kind":"units","upstreams":[]}}]}',
          /lowercase host name/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["a.localhost:80"],"target":{"kind":"units","upstreams":[]}}]}',
          /without a port/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["a.localhost"],"target":{"kind":"units","upstreams":[{"host":"127.0.0.1","port":70000,"unitId":"u"}]}}]}',
          /port/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["a.localhost"],"target":{"kind":"units","upstreams":[{"host":"127.0.0.1","port":80}]}}]}',
          /unitId/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["a.localhost"],"target":{"kind":"static","root":"relative/dir"}}]}',
          /absolute path/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["a.localhost"],"target":{"kind":"lambda"}}]}',
          /'units' or 'static'/,
        ],
        [
          '{"generation":1,"routes":[{"app":"a","hosts":["x.localhost"],"target":{"kind":"units","upstreams":[]}},{"app":"b","hosts":["x.localhost"],"target":{"kind":"units","upstreams":[]}}]}',
          /also routed to a/,
        ],
      ];
      for (const [body, message] of cases) {
        const res = await putRaw(socket, body);
        assert.equal(res.status, 400, body);
        const parsed = JSON.parse(res.body) as { error: { code: string; message: string } };
        assert.equal(parsed.error.code, 'ROUTE_TABLE_INVALID');
        assert.match(parsed.error.message, message, body);
      }
      assert.equal((await router.client.health()).generation, 0, 'nothing was applied');

      assert.deepEqual(await router.client.putRoutes({ generation: 5, routes: [] }), {
        generation: 5,
      });
      assert.deepEqual(await router.client.putRoutes({ generation: 5, routes: [] }), {
        generation: 5,
      });
      await assert.rejects(
        router.client.putRoutes({ generation: 4, routes: [] }),
        (error: unknown) =>
          error instanceof RouterRequestError &&
          error.status === 409 &&
          error.code === 'GENERATION_STALE',
      );
      assert.equal((await router.client.routes()).generation, 5);
    } finally {
      await router.close();
    }
  });

  it('persists the table and serves it again after a restart', async () => {
    const dir = await tempDir();
    const upstream = await startUpstream('kept');
    try {
      const first = await startTestRouter({ dir });
      const table = { generation: 7, routes: [unitsRoute('kept', ['kept.localhost'], [upstream])] };
      await first.client.putRoutes(table);
      assert.deepEqual(JSON.parse(await readFile(path.join(dir, ROUTES_FILE), 'utf8')), table);
      assert.equal((await stat(path.join(dir, ROUTES_FILE))).mode & 0o777, 0o600);
      await first.close();

      const second = await startTestRouter({ dir });
      try {
        assert.deepEqual(await second.client.routes(), table);
        assert.equal((await request(second.port, 'kept.localhost')).body, 'I am kept GET /');
      } finally {
        await second.close();
      }
    } finally {
      await upstream.close();
    }
  });

  it('starts empty from a corrupt routes.json and keeps it as routes.json.corrupt', async () => {
    for (const content of [
      '{"generation": 3, "routes": [',
      '{"generation":3,"routes":[{"app":"x"}]}',
    ]) {
      const dir = await tempDir();
      await writeFile(path.join(dir, ROUTES_FILE), content);
      const router = await startTestRouter({ dir });
      try {
        assert.deepEqual(await router.client.routes(), { generation: 0, routes: [] });
        assert.equal(await readFile(path.join(dir, `${ROUTES_FILE}.corrupt`), 'utf8'), content);
        await assert.rejects(stat(path.join(dir, ROUTES_FILE)), { code: 'ENOENT' });
        assert.equal((await request(router.port, 'x.localhost')).status, 404);
      } finally {
        await router.close();
      }
    }
  });
});
