// Add-ons on the process runtime, end to end, on both stores: real PostgreSQL and Redis
// servers made from Debian's packages, attached to an app whose units then hold the URL; a
// row and a key written through that URL survive a redeploy, a config change, a controller
// restart after `berth down`; and every bad request is refused with nothing made.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/logging/index.js';
import {
  compileServerOptions,
  startServer,
  stopDataPlane,
  type RunningServer,
} from '../../src/server/index.js';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  testUnitPorts,
  type TestServer,
} from '../support/api.js';
import { backends } from '../support/databases.js';
import { deploy, viaRouter } from '../support/platform.js';
import { nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface AddonJson {
  name: string;
  kind: string;
  version: string;
  status: string;
  createdAt: string;
  sizeBytes?: number;
  attachments: { app: string; alias: string; variable: string }[];
  url?: string;
}

/** Runs `work` with a client of the PostgreSQL add-on at `url`. */
async function withPostgres<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Sends RESP commands to the Redis add-on at `url` (AUTH first); resolves with the replies. */
function redis(url: string, ...commands: string[][]): Promise<string> {
  const { hostname, port, password } = new URL(url);
  const encode = (args: string[]) =>
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  const all = [['AUTH', 'default', decodeURIComponent(password)], ...commands];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let reply = '';
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (reply.split('\r\n').filter((line) => /^[+\-:$]/.test(line)).length >= all.length) {
        socket.end();
        resolve(reply);
      }
    });
    socket.once('connect', () => socket.write(all.map(encode).join('')));
  });
}

for (const backend of backends) {
  describe(`add-ons on the process runtime (${backend})`, () => {
    let server: TestServer;
    let token: string;
    let bob: string;

    const addons = async (as = token): Promise<AddonJson[]> =>
      (await server.request('GET', '/addons', { token: as })).body as AddonJson[];

    before(async () => {
      server = await startTestServer(backend);
      token = server.adminToken;
      for (const name of ['shop', 'other']) {
        const created = await server.request('POST', '/apps', { token, body: { name } });
        assert.equal(created.status, 201);
      }
      bob = await createUserAndLogin(server, 'bob');
      assert.equal(
        (await server.request('POST', '/apps', { token: bob, body: { name: 'bobs' } })).status,
        201,
      );
    });
    after(() => server.close());

    it('creates PostgreSQL attached to an app, whose units then hold DATABASE_URL', async () => {
      const first = await deploy(server, token, 'shop', withVersion(nodeHelloApp, 'one'));
      assert.equal(first.status, 'succeeded', first.details.error ?? '');
      const created = await server.request('POST', '/addons', {
        token,
        body: { kind: 'postgres', app: 'shop' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { addon, release } = created.body as { addon: AddonJson; release: number };
      assert.equal(addon.name, 'shop-postgres');
      assert.equal(addon.status, 'running');
      assert.match(addon.version, /^\d+$/);
      assert.deepEqual(
        addon.attachments.map((a) => [a.app, a.variable]),
        [['shop', 'DATABASE_URL']],
      );
      assert.equal(addon.url, undefined, 'no URL without reveal');
      assert.equal(release, (first.release ?? 0) + 1, 'the attachment rolled a release');

      const revealed = (await server.request('GET', '/addons/shop-postgres?reveal=true', { token }))
        .body as AddonJson & { url: string };
      assert.ok(revealed.url.startsWith('postgres://shop_postgres:'), revealed.url);
      const password = decodeURIComponent(new URL(revealed.url).password);
      assert.ok(password.length >= 40);
      assert.ok(!server.logText().includes(password), 'the password is in no log line');

      // The app's units get it once the new release rolls out.
      const routerUrl = server.server.routerUrl;
      const deadline = Date.now() + 30_000;
      let seen = '';
      while (Date.now() < deadline) {
        seen = (await viaRouter(routerUrl, 'shop', '/env/DATABASE_URL')).text;
        if (seen === revealed.url) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(seen, revealed.url);

      await withPostgres(revealed.url, async (client) => {
        await client.query('CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)');
        await client.query("INSERT INTO orders (item) VALUES ('kept')");
        // initdb's `postgres` became the add-on's database: the cluster holds it alone.
        const { rows } = await client.query<{ datname: string }>(
          'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname',
        );
        assert.deepEqual(
          rows.map((row) => row.datname),
          ['shop_postgres'],
        );
        // The role owns its database and nothing more: every PostgreSQL add-on's server runs
        // as Debian's postgres user, so a superuser could read the others' data files.
        const role = await client.query<{ rolsuper: boolean; owner: string }>(
          `SELECT rolsuper, pg_get_userbyid(datdba) AS owner FROM pg_roles, pg_database
            WHERE rolname = current_user AND datname = current_database()`,
        );
        assert.deepEqual(role.rows, [{ rolsuper: false, owner: 'shop_postgres' }]);
        await assert.rejects(
          client.query("SELECT pg_read_file('PG_VERSION')"),
          /permission denied/,
        );
        await assert.rejects(
          client.query("COPY (SELECT 1) TO PROGRAM 'id'"),
          /permission denied|must be superuser/,
        );
      });
      // Nobody logs in as the cluster's superuser: it has no password any more.
      const superuser = new URL(revealed.url);
      superuser.username = 'berth-superuser';
      await assert.rejects(
        withPostgres(superuser.toString(), async () => undefined),
        /password/,
      );
      const listed = (await server.request('GET', '/apps/shop/releases', { token })).body as {
        version: number;
        configKeys: string[];
      }[];
      assert.ok(listed[0]?.configKeys.includes('DATABASE_URL'), 'the release lists the key');
    });

    it('creates PostgreSQL named pg-…, whose role PostgreSQL would reserve', async () => {
      const created = await server.request('POST', '/addons', {
        token,
        body: { kind: 'postgres', name: 'pg-reports' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { url } = (await server.request('GET', '/addons/pg-reports?reveal=true', { token }))
        .body as AddonJson & { url: string };
      assert.ok(url.startsWith('postgres://addon_pg_reports:'), url);
      assert.ok(url.endsWith('/pg_reports'), url);
      await withPostgres(url, (client) => client.query('SELECT 1'));
      const destroyed = await server.request('DELETE', '/addons/pg-reports?confirm=pg-reports', {
        token,
      });
      assert.equal(destroyed.status, 204);
    });

    it('creates Redis attached under an alias of the caller’s choice', async () => {
      const created = await server.request('POST', '/addons', {
        token,
        body: { kind: 'redis', name: 'cache', app: 'shop', as: 'CACHE' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { url } = (await server.request('GET', '/addons/cache?reveal=true', { token }))
        .body as AddonJson & { url: string };
      assert.ok(url.startsWith('redis://default:'), url);
      const replies = await redis(url, ['SET', 'greeting', 'kept'], ['GET', 'greeting']);
      assert.match(replies, /\+OK\r\n\+OK\r\n\$4\r\nkept\r\n/);
      const wrong = await redis(url.replace(/:[^:@]+@/, ':wrong@'), ['PING']);
      assert.match(wrong, /^-WRONGPASS/, 'a wrong password is refused');
    });

    it('refuses bad requests precisely, and makes nothing', async () => {
      const before = await addons();
      const cases: [string, string, unknown, number, string][] = [
        ['POST', '/addons', { kind: 'mysql' }, 400, 'ADDON_KIND_UNKNOWN'],
        ['POST', '/addons', { kind: 'postgres', name: 'shop-postgres' }, 409, 'ADDON_EXISTS'],
        ['POST', '/addons', { kind: 'postgres', name: 'x'.repeat(40) }, 400, 'INVALID_NAME'],
        ['POST', '/addons', { kind: 'postgres', name: 'Bad_Name' }, 400, 'INVALID_NAME'],
        ['POST', '/addons', { kind: 'redis', app: 'nope' }, 404, 'APP_NOT_FOUND'],
        ['POST', '/addons', { kind: 'redis', app: 'shop', as: 'lower' }, 400, 'INVALID_NAME'],
        ['POST', '/addons', { kind: 'redis', app: 'shop', as: 'BERTH_X' }, 400, 'INVALID_NAME'],
        ['POST', '/addons', { kind: 'redis', app: 'shop', as: 'CACHE' }, 409, 'ADDON_ALIAS_TAKEN'],
        ['POST', '/addons', { kind: 'redis', extra: 1 }, 400, 'UNKNOWN_FIELD'],
        ['POST', '/addons/cache/attachments', { app: 'nope' }, 404, 'APP_NOT_FOUND'],
        ['POST', '/addons/cache/attachments', { app: 'shop' }, 409, 'ADDON_ATTACHED'],
        ['POST', '/addons/none/attachments', { app: 'shop' }, 404, 'ADDON_NOT_FOUND'],
        ['DELETE', '/addons/cache', undefined, 400, 'CONFIRMATION_REQUIRED'],
        ['DELETE', '/addons/cache?confirm=cach', undefined, 400, 'CONFIRMATION_REQUIRED'],
        ['DELETE', '/addons/cache?confirm=cache', undefined, 409, 'ADDON_ATTACHED'],
        ['DELETE', '/addons/cache/attachments/other', undefined, 404, 'ADDON_NOT_ATTACHED'],
        ['DELETE', '/apps/shop', undefined, 409, 'ADDON_ATTACHED'],
      ];
      for (const [method, pathname, body, status, code] of cases) {
        const reply = await server.request(method, pathname, {
          token,
          ...(body === undefined ? {} : { body }),
        });
        assert.equal(reply.status, status, `${method} ${pathname} ${JSON.stringify(reply.body)}`);
        assert.equal(errorCode(reply), code, `${method} ${pathname}`);
      }
      // Another user: sees none of them, may not attach, reveal or destroy them.
      assert.deepEqual(await addons(bob), []);
      const foreign: [string, string, unknown, number][] = [
        ['POST', '/addons/cache/attachments', { app: 'bobs' }, 403],
        ['GET', '/addons/cache', undefined, 403],
        ['GET', '/addons/cache?reveal=true', undefined, 403],
        ['DELETE', '/addons/cache?confirm=cache', undefined, 403],
        ['POST', '/addons', { kind: 'redis', app: 'shop' }, 403],
      ];
      for (const [method, pathname, body, status] of foreign) {
        const reply = await server.request(method, pathname, {
          token: bob,
          ...(body === undefined ? {} : { body }),
        });
        assert.equal(reply.status, status, `bob: ${method} ${pathname}`);
        assert.equal(errorCode(reply), 'ACCESS_DENIED');
      }
      assert.equal((await server.request('GET', '/addons', {})).status, 401);
      const after = await addons();
      assert.deepEqual(
        after.map((a) => [a.name, a.createdAt, a.attachments.length]),
        before.map((a) => [a.name, a.createdAt, a.attachments.length]),
        'nothing was made, changed or removed',
      );
      assert.equal((await server.request('GET', '/apps/shop', { token })).status, 200);
    });

    it('keeps the data through a redeploy, berth down and a new controller', async () => {
      const { url } = (await server.request('GET', '/addons/shop-postgres?reveal=true', { token }))
        .body as AddonJson & { url: string };
      const { url: cacheUrl } = (
        await server.request('GET', '/addons/cache?reveal=true', { token })
      ).body as AddonJson & { url: string };
      const dataDir = path.join(server.location.dataDir, 'addons', 'shop-postgres', 'data');
      const born = statSync(dataDir).birthtimeMs || statSync(dataDir).ctimeMs;
      const [createdBefore] = (await addons()).filter((a) => a.name === 'shop-postgres');

      const redeployed = await deploy(server, token, 'shop', withVersion(nodeHelloApp, 'two'));
      assert.equal(redeployed.status, 'succeeded', redeployed.details.error ?? '');
      const patched = await server.request('PATCH', '/apps/shop/config', {
        token,
        body: { GREETING: 'hi' },
      });
      assert.equal(patched.status, 200);

      // berth down: the controller, the router, the units and the add-on servers stop.
      await server.server.close();
      const stopped = await stopDataPlane(server.location.dataDir, 5000);
      assert.equal(stopped.addons, 2);
      await assert.rejects(
        withPostgres(url, () => Promise.resolve()),
        'the server is down',
      );

      const again: RunningServer = await startServer(
        compileServerOptions(
          {
            'data-dir': server.location.dataDir,
            listen: '127.0.0.1:0',
            'router-listen': '127.0.0.1:0',
            'ssh-listen': 'off',
            ...(server.location.databaseUrl ? { 'database-url': server.location.databaseUrl } : {}),
          },
          { BERTH_UNIT_PORTS: testUnitPorts() },
        ),
        createLogger({ level: 'error' }),
      );
      try {
        const deadline = Date.now() + 60_000;
        let rows: { item: string }[] | undefined;
        while (!rows && Date.now() < deadline) {
          rows = await withPostgres(
            url,
            async (client) =>
              (await client.query<{ item: string }>('SELECT item FROM orders')).rows,
          ).catch(() => undefined);
          if (!rows) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.deepEqual(rows, [{ item: 'kept' }], 'the row is there, on the same URL');
        assert.match(await redis(cacheUrl, ['GET', 'greeting']), /\$4\r\nkept\r\n/);
        const now = statSync(dataDir).birthtimeMs || statSync(dataDir).ctimeMs;
        assert.equal(now, born, 'the data directory was never made again');
        const listed = await fetch(`${again.apiUrl}/api/v1/addons`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const [createdAfter] = ((await listed.json()) as AddonJson[]).filter(
          (a) => a.name === 'shop-postgres',
        );
        assert.equal(createdAfter?.createdAt, createdBefore?.createdAt);
      } finally {
        await again.close();
      }
    });
  });
}
