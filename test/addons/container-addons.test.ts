// Add-ons on the container runtime, against the test run's real Podman engine: PostgreSQL and
// Redis servers in containers with a volume each (Berth's own images from `berth stacks
// build`), reached by the app's containers by name on the app's network and by the
// controller on a loopback port. Created once: a restarted controller and `berth down` keep
// the container's volume and data; backups restore; a truncated backup is refused.
import assert from 'node:assert/strict';
import { truncate } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Engine } from '../../src/engine/index.js';
import { createLogger } from '../../src/logging/index.js';
import { redisCommand } from '../../src/runtime/addon-clients.js';
import { compileServerOptions, startServer, stopDataPlane } from '../../src/server/index.js';
import { startTestServer, testUnitPorts, type TestServer } from '../support/api.js';
import { connectTestEngine, removeTestApps, testEngineSocket } from '../support/engine.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import { packageJson } from '../support/sample-apps.js';

interface AddonJson {
  name: string;
  status: string;
  createdAt: string;
  url?: string;
  attachments: { app: string; variable: string }[];
}

/**
 * An app that reaches its add-ons from inside its container: `/pg` sends PostgreSQL's startup
 * message to DATABASE_URL's host and answers the first byte of the reply ('R': the server asks
 * for the password, so its host rules let this network in); `/redis` AUTHs and SETs a key.
 */
const probeApp = {
  'package.json': packageJson('probe', { start: 'node server.js' }),
  'server.js': `'use strict';
const http = require('http');
const net = require('net');
function pgProbe(s) {
  const url = new URL(process.env.DATABASE_URL);
  const socket = net.connect(Number(url.port), url.hostname);
  const params = Buffer.from('user\\0' + decodeURIComponent(url.username) + '\\0database\\0' + url.pathname.slice(1) + '\\0\\0');
  const head = Buffer.alloc(8); head.writeInt32BE(8 + params.length, 0); head.writeInt32BE(196608, 4);
  socket.on('connect', () => socket.write(Buffer.concat([head, params])));
  socket.once('data', (d) => { s.end(String.fromCharCode(d[0])); socket.destroy(); });
  socket.on('error', (e) => { s.statusCode = 502; s.end(e.code || e.message); });
}
function redisProbe(s) {
  const url = new URL(process.env.CACHE_URL);
  const enc = (a) => '*' + a.length + '\\r\\n' + a.map((x) => '$' + Buffer.byteLength(x) + '\\r\\n' + x + '\\r\\n').join('');
  const socket = net.connect(Number(url.port), url.hostname);
  let reply = '';
  socket.on('connect', () => socket.write(enc(['AUTH', 'default', decodeURIComponent(url.password)]) + enc(['SET', 'from-app', 'yes'])));
  socket.on('data', (d) => { reply += d; if (reply.split('\\r\\n').length > 2) { s.end(reply.replace(/\\r\\n/g, ' ').trim()); socket.destroy(); } });
  socket.on('error', (e) => { s.statusCode = 502; s.end(e.code || e.message); });
}
const server = http.createServer((q, s) => {
  if (q.url === '/pg') return pgProbe(s);
  if (q.url === '/redis') return redisProbe(s);
  s.end('probe');
});
server.listen(Number(process.env.PORT));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
};

const APPS = ['probe1'];

/** TestServer.request against another controller of the same data dir. */
function requestTo(base: string): TestServer['request'] {
  return async (method, pathname, requestOptions = {}) => {
    const response = await fetch(`${base}/api/v1${pathname}`, {
      method,
      headers: {
        authorization: `Bearer ${requestOptions.token ?? ''}`,
        ...(requestOptions.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(requestOptions.body === undefined ? {} : { body: JSON.stringify(requestOptions.body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as unknown) : undefined,
    };
  };
}

describe('add-ons on the container runtime', () => {
  let engine: Engine;
  let server: TestServer;
  let token: string;
  /** The loopback port each add-on's server is published on, as the engine says. */
  const published = async (name: string): Promise<number> => {
    const info = await engine.getContainer(`berth-addon-${name}`).inspect();
    const bindings = (info.HostConfig.PortBindings ?? {}) as Record<string, { HostPort: string }[]>;
    return Number(Object.values(bindings)[0]?.[0]?.HostPort);
  };
  const loopbackUrl = async (name: string): Promise<string> => {
    const { url } = (await server.request('GET', `/addons/${name}?reveal=true`, { token }))
      .body as AddonJson & { url: string };
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(await published(name));
    return parsed.toString();
  };
  const sql = async (name: string, text: string): Promise<unknown[]> => {
    const client = new pg.Client({ connectionString: await loopbackUrl(name) });
    await client.connect();
    try {
      return (await client.query(text)).rows as unknown[];
    } finally {
      await client.end();
    }
  };
  const redisGet = async (name: string, key: string): Promise<string> => {
    const url = new URL(await loopbackUrl(name));
    return redisCommand(
      { host: '127.0.0.1', port: Number(url.port) },
      decodeURIComponent(url.password),
      ['GET', key],
    );
  };

  before(async () => {
    engine = (await connectTestEngine()).engine;
    server = await startTestServer('sqlite', { runtime: 'container' });
    token = server.adminToken;
    assert.equal(
      (await server.request('POST', '/apps', { token, body: { name: 'probe1' } })).status,
      201,
    );
  });
  after(async () => {
    for (const name of ['probe1-postgres', 'cache1', 'copy1']) {
      await engine
        .getContainer(`berth-addon-${name}`)
        .remove({ force: true })
        .catch(() => undefined);
      await engine
        .getVolume(`berth-addon-${name}-data`)
        .remove()
        .catch(() => undefined);
      await engine
        .getNetwork(`berth-addon-${name}`)
        .remove()
        .catch(() => undefined);
    }
    await server.close();
    await removeTestApps(engine, APPS);
    await engine
      .getNetwork('berth-app-probe1')
      .remove()
      .catch(() => undefined);
  });

  it('creates PostgreSQL and Redis that the app reaches by name on its network', async () => {
    const pgCreated = await server.request('POST', '/addons', {
      token,
      body: { kind: 'postgres', app: 'probe1' },
    });
    assert.equal(pgCreated.status, 201, JSON.stringify(pgCreated.body));
    const redisCreated = await server.request('POST', '/addons', {
      token,
      body: { kind: 'redis', name: 'cache1', app: 'probe1', as: 'CACHE' },
    });
    assert.equal(redisCreated.status, 201, JSON.stringify(redisCreated.body));
    const { url } = (await server.request('GET', '/addons/probe1-postgres?reveal=true', { token }))
      .body as AddonJson & { url: string };
    assert.match(url, /^postgres:\/\/probe1_postgres:[^@]+@berth-addon-probe1-postgres:5432\//);
    const password = decodeURIComponent(new URL(url).password);
    assert.ok(!server.logText().includes(password), 'the password is in no log line');

    const deployed = await deploy(server, token, 'probe1', probeApp);
    assert.equal(deployed.status, 'succeeded', deployed.details.error ?? '');
    const routerUrl = server.server.routerUrl;
    assert.equal((await viaRouter(routerUrl, 'probe1', '/pg')).text, 'R', 'PostgreSQL answers');
    assert.equal((await viaRouter(routerUrl, 'probe1', '/redis')).text, '+OK +OK');
    assert.equal(await redisGet('cache1', 'from-app'), 'yes', 'the app wrote to Redis');

    await sql('probe1-postgres', 'CREATE TABLE orders (id serial PRIMARY KEY, item text)');
    // The app's role owns its database and nothing more: no server files, no programs.
    const [role] = (await sql(
      'probe1-postgres',
      'SELECT rolsuper, current_database() AS db FROM pg_roles WHERE rolname = current_user',
    )) as { rolsuper: boolean; db: string }[];
    assert.deepEqual(role, { rolsuper: false, db: 'probe1_postgres' });
    await assert.rejects(
      sql('probe1-postgres', "SELECT pg_read_file('/var/lib/postgresql/data/pg_hba.conf')"),
      /permission denied/,
    );
    await assert.rejects(
      sql('probe1-postgres', "COPY (SELECT 1) TO PROGRAM 'id'"),
      /permission denied|must be superuser/,
    );
    await sql('probe1-postgres', "INSERT INTO orders (item) VALUES ('kept')");
    // The servers run as their images' users, never root, within a memory limit.
    const info = await engine.getContainer('berth-addon-probe1-postgres').inspect();
    assert.equal(info.Config.User, 'postgres');
    assert.ok(
      !(info.Config.Env ?? []).some((entry) => entry.includes(password)),
      'the container holds a SCRAM verifier, never the password',
    );
    assert.ok((info.HostConfig.Memory ?? 0) > 0);
  });

  it('a restarted controller and berth down keep the servers, their volumes and data', async () => {
    const before = (await server.request('GET', '/addons/probe1-postgres', { token }))
      .body as AddonJson;
    const volume = await engine.getVolume('berth-addon-probe1-postgres-data').inspect();
    await server.server.close();
    const stopped = await stopDataPlane(server.location.dataDir, 1000, testEngineSocket());
    assert.equal(stopped.addons, 2, 'berth down stopped both servers');
    const state = await engine.getContainer('berth-addon-cache1').inspect();
    assert.equal(state.State.Running, false);
    const options = compileServerOptions(
      {
        'data-dir': server.location.dataDir,
        listen: '127.0.0.1:0',
        'router-listen': '127.0.0.1:0',
        'ssh-listen': '127.0.0.1:0',
        runtime: 'container',
        'engine-socket': testEngineSocket(),
      },
      { BERTH_CONTAINER_PORTS: testUnitPorts() },
    );
    const again = await startServer(options, createLogger({ level: 'silent' }));
    // The other tests talk to this controller.
    const { location } = server;
    server = {
      ...server,
      server: again,
      request: requestTo(again.apiUrl),
      close: async () => {
        await again.close();
        await stopDataPlane(location.dataDir, 1000, testEngineSocket());
        await location.drop();
      },
    };
    const get = async (pathname: string) =>
      (await fetch(`${again.apiUrl}/api/v1${pathname}`, {
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.json())) as AddonJson;
    for (const name of ['cache1', 'probe1-postgres']) {
      await eventually(
        `${name} runs`,
        async () => (await get(`/addons/${name}`)).status === 'running',
      );
    }
    const after = await get('/addons/probe1-postgres');
    assert.equal(after.createdAt, before.createdAt, 'never recreated');
    const volumeAfter = await engine.getVolume('berth-addon-probe1-postgres-data').inspect();
    assert.equal(
      (volumeAfter as { CreatedAt?: string }).CreatedAt,
      (volume as { CreatedAt?: string }).CreatedAt,
    );
    assert.deepEqual(await sql('probe1-postgres', 'SELECT item FROM orders'), [{ item: 'kept' }]);
    assert.equal(await redisGet('cache1', 'from-app'), 'yes');
  });

  it('backs up and restores PostgreSQL, and refuses a truncated backup', async () => {
    const made = await server.request('POST', '/addons/probe1-postgres/backups', { token });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const backup = made.body as { name: string; status: string; sizeBytes: number };
    assert.equal(backup.status, 'succeeded');
    await sql('probe1-postgres', 'DROP TABLE orders');
    const restored = await server.request('POST', '/addons/probe1-postgres/restores', {
      token,
      body: { backup: backup.name, confirm: 'probe1-postgres' },
    });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.deepEqual(await sql('probe1-postgres', 'SELECT item FROM orders'), [{ item: 'kept' }]);

    // Into a new add-on, then a truncated file: refused, and the target keeps its data.
    const copied = await server.request('POST', '/addons/probe1-postgres/restores', {
      token,
      body: { backup: backup.name, into: 'copy1' },
    });
    assert.equal(copied.status, 200, JSON.stringify(copied.body));
    assert.deepEqual(await sql('copy1', 'SELECT item FROM orders'), [{ item: 'kept' }]);
    await sql('probe1-postgres', "INSERT INTO orders (item) VALUES ('after')");
    const file = path.join(
      server.location.dataDir,
      'backups',
      'probe1-postgres',
      `${backup.name}.dump`,
    );
    await truncate(file, Math.floor(backup.sizeBytes / 2));
    const refused = await server.request('POST', '/addons/probe1-postgres/restores', {
      token,
      body: { backup: backup.name, confirm: 'probe1-postgres' },
    });
    assert.equal(refused.status, 400);
    assert.equal((refused.body as { error: { code: string } }).error.code, 'BACKUP_CORRUPT');
    assert.equal((await sql('probe1-postgres', 'SELECT item FROM orders')).length, 2);
  });

  it('backs up and restores Redis', async () => {
    const made = await server.request('POST', '/addons/cache1/backups', { token });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const backup = made.body as { name: string; status: string };
    assert.equal(backup.status, 'succeeded');
    const url = new URL(await loopbackUrl('cache1'));
    const address = { host: '127.0.0.1', port: Number(url.port) };
    const password = decodeURIComponent(url.password);
    await redisCommand(address, password, ['SET', 'from-app', 'overwritten']);
    await redisCommand(address, password, ['SET', 'later', 'gone']);
    const restored = await server.request('POST', '/addons/cache1/restores', {
      token,
      body: { backup: backup.name, confirm: 'cache1' },
    });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(await redisGet('cache1', 'from-app'), 'yes');
    assert.equal(await redisGet('cache1', 'later'), '', 'a key written after the backup is gone');
    const info = await redisCommand(address, password, ['INFO', 'persistence']);
    assert.match(info, /aof_enabled:1/, 'the append-only file is on again');
  });

  it('the engine restarts a server that crashes, with its data', async () => {
    const container = engine.getContainer('berth-addon-cache1');
    const before = (await container.inspect()).RestartCount;
    // The server is the child of the container's init: killed as a crash would.
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', 'kill -9 $(cat /proc/1/task/1/children)'],
      AttachStdout: true,
      AttachStderr: true,
    });
    (await exec.start({ hijack: true, stdin: false })).resume();
    await eventually('the server was restarted', async () => {
      const info = await container.inspect();
      return info.RestartCount > before && info.State.Running;
    });
    await eventually('it answers again', async () =>
      redisGet('cache1', 'from-app').then(
        (value) => value === 'yes',
        () => false,
      ),
    );
    const shown = (await server.request('GET', '/addons/cache1', { token })).body as AddonJson & {
      restarts?: number;
    };
    assert.equal(shown.status, 'running');
  });

  it('detaches from the app network, and destroy removes container and volume', async () => {
    const detached = await server.request('DELETE', '/addons/cache1/attachments/probe1', {
      token,
    });
    assert.equal(detached.status, 200, JSON.stringify(detached.body));
    const info = await engine.getContainer('berth-addon-cache1').inspect();
    assert.equal(info.NetworkSettings.Networks['berth-app-probe1'], undefined);
    const destroyed = await server.request('DELETE', '/addons/cache1?confirm=cache1', { token });
    assert.equal(destroyed.status, 204);
    await assert.rejects(engine.getContainer('berth-addon-cache1').inspect());
    await assert.rejects(engine.getVolume('berth-addon-cache1-data').inspect());
    await assert.rejects(engine.getNetwork('berth-addon-cache1').inspect());
  });
});
