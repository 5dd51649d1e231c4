// Custom domains and maintenance mode end to end: a real server deploys a real app on the
// process runtime, and requests go through its builtin router with the Host header a browser
// sends (what `curl --resolve www.shop.example:PORT:127.0.0.1` does). Bad input leaves the
// router's table as it was; maintenance drains requests in flight and outlives restarts.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/logging/index.js';
import { readRouterPidFile, RouterClient } from '../../src/router/index.js';
import { compileServerOptions, startServer, type RunningServer } from '../../src/server/index.js';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  testUnitPorts,
  tokenWithScopes,
  type TestServer,
} from '../support/api.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import { packageJson } from '../support/sample-apps.js';

/** Answers with the Host it was sent; `/slow` takes 1.5 s. */
const hostEchoApp = {
  'package.json': packageJson('host-echo', { start: 'node server.js' }),
  'server.js': `'use strict';
const http = require('http');
http.createServer((req, res) => {
  const reply = () => res.end('host=' + req.headers.host + ' path=' + req.url);
  if (req.url.startsWith('/slow')) setTimeout(reply, 1500);
  else reply();
}).listen(process.env.PORT);
`,
};

/** One request to the router with a given Host, without keep-alive. */
function get(routerUrl: string, host: string, urlPath = '/') {
  return viaRouter(routerUrl, '', urlPath, { host, agent: false });
}

/** Requests in a loop to `host`, each answer kept with the time it came. */
function loop(routerUrl: string, host: string) {
  const answers: { at: number; status: number; error?: string }[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let running = true;
  const done = Promise.all(
    [0, 1].map(async () => {
      while (running) {
        try {
          const reply = await viaRouter(routerUrl, '', '/', { host, agent });
          answers.push({ at: performance.now(), status: reply.status });
        } catch (error) {
          answers.push({ at: performance.now(), status: 0, error: String(error) });
        }
        await sleep(5);
      }
    }),
  );
  return {
    answers,
    stop: async () => {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

describe('custom domains and maintenance through a real server and router', () => {
  let server: TestServer;
  let token: string;
  let routerUrl: string;
  let table: () => Promise<unknown>;

  before(async () => {
    server = await startTestServer('sqlite');
    token = server.adminToken;
    routerUrl = server.server.routerUrl;
    const client = new RouterClient({
      controlSocket: path.join(server.location.dataDir, 'router', 'control.sock'),
      timeoutMs: 5000,
    });
    table = async () => (await client.routes()).routes;
    for (const name of ['shop', 'blog']) {
      const created = await server.request('POST', '/apps', { token, body: { name } });
      assert.equal(created.status, 201);
    }
    const record = await deploy(server, token, 'shop', hostEchoApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
  });
  after(() => server.close());

  it('serves a deployed app on its custom host and a wildcard host, with the original Host', async () => {
    for (const host of ['www.shop.example', '*.Shop.Example']) {
      const added = await server.request('POST', '/apps/shop/domains', { token, body: { host } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    const again = await server.request('POST', '/apps/shop/domains', {
      token,
      body: { host: 'WWW.shop.example.' },
    });
    assert.equal(again.status, 200, 'a host the app holds is no change');
    const listed = await server.request('GET', '/apps/shop/domains', { token });
    assert.deepEqual(
      (listed.body as { host: string; wildcard: boolean }[]).map((d) => [d.host, d.wildcard]),
      [
        ['*.shop.example', true],
        ['www.shop.example', false],
      ],
    );
    // Answered once the router serves it: no waiting needed.
    const exact = await get(routerUrl, 'www.shop.example');
    assert.equal(exact.status, 200);
    assert.equal(exact.text, 'host=www.shop.example path=/');
    const wild = await get(routerUrl, 'api.shop.example:8443', '/v1?x=1');
    assert.equal(wild.text, 'host=api.shop.example:8443 path=/v1?x=1');
    assert.equal((await get(routerUrl, 'a.b.shop.example')).status, 404);
    assert.equal((await get(routerUrl, 'shop.localhost')).status, 200);
  });

  it('refuses bad input with a clear error and leaves the routes untouched', async () => {
    const before = await table();
    const post = (app: string, host: unknown, as = token) =>
      server.request('POST', `/apps/${app}/domains`, { token: as, body: { host } });

    const taken = await post('blog', 'www.shop.example');
    assert.equal(taken.status, 409);
    assert.equal(errorCode(taken), 'DOMAIN_TAKEN');
    assert.match(JSON.stringify(taken.body), /app 'shop'/, 'an admin may know the holder');

    const bob = await createUserAndLogin(server, 'bob');
    assert.equal(
      (await server.request('POST', '/apps', { token: bob, body: { name: 'bobs' } })).status,
      201,
    );
    const hidden = await post('bobs', 'api.shop.example'.replace('api.', '*.'), bob);
    assert.equal(hidden.status, 409);
    assert.equal(errorCode(hidden), 'DOMAIN_TAKEN');
    assert.doesNotMatch(JSON.stringify(hidden.body), /shop'|bobs'/, 'names neither app');
    assert.match(JSON.stringify(hidden.body), /another app/);

    const malformed = [
      'exa_mple.com',
      '-bad.example.com',
      'bad-.example.com',
      'two..dots.example',
      'nodot',
      'www.example.com:8080',
      'http://www.example.com/',
      'has space.example.com',
      '192.0.2.7',
      '[2001:db8::1]',
      '0x7f.1',
      `${'a'.repeat(64)}.example.com`,
      `${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}.com`,
      'www.*.example.com',
      '*example.com',
      '*.*.example.com',
      'shop.localhost',
      '*.localhost',
    ];
    for (const host of malformed) {
      const refused = await post('blog', host);
      assert.equal(refused.status, 400, `${host}: ${JSON.stringify(refused.body)}`);
      assert.equal(errorCode(refused), 'DOMAIN_INVALID', host);
    }
    const notAString = await post('blog', 42);
    assert.equal(notAString.status, 400);

    const unknown = await post('nosuchapp', 'www.nowhere.example');
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'APP_NOT_FOUND');
    const readOnly = await tokenWithScopes(server, token, ['read']);
    const forbidden = await post('blog', 'www.blog.example', readOnly);
    assert.equal(forbidden.status, 403);
    assert.equal(errorCode(forbidden), 'SCOPE_REQUIRED');
    const notTheirs = await post('shop', 'www.bob.example', bob);
    assert.equal(notTheirs.status, 403);
    const removeMissing = await server.request('DELETE', '/apps/blog/domains/www.shop.example', {
      token,
    });
    assert.equal(removeMissing.status, 404);
    assert.equal(errorCode(removeMissing), 'DOMAIN_NOT_FOUND');
    const maintenanceForbidden = await server.request('PUT', '/apps/shop/maintenance', {
      token: readOnly,
      body: {},
    });
    assert.equal(maintenanceForbidden.status, 403);
    const tooLong = await server.request('PUT', '/apps/shop/maintenance', {
      token,
      body: { message: 'x'.repeat(1001) },
    });
    assert.equal(tooLong.status, 400);

    assert.deepEqual(await table(), before, 'the routes are as they were');
    assert.equal((await get(routerUrl, 'www.shop.example')).status, 200);
  });

  it('drains requests in flight, then answers 503 with Retry-After; off serves again; no failure outside', async (t) => {
    const traffic = loop(routerUrl, 'www.shop.example');
    await eventually('requests flow', async () => traffic.answers.length > 20);
    const slow = get(routerUrl, 'www.shop.example', '/slow');
    await sleep(200);
    const onAsked = performance.now();
    const on = await server.request('PUT', '/apps/shop/maintenance', {
      token,
      body: { message: 'Back at <b>14:00</b> & later' },
    });
    const onDone = performance.now();
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal((on.body as { drained: boolean }).drained, true);
    const slowReply = await slow;
    assert.equal(slowReply.status, 200, 'the slow request started before maintenance completes');
    assert.equal(slowReply.text, 'host=www.shop.example path=/slow');
    assert.ok(
      onDone - onAsked > 1000,
      `the answer waited for the slow request (${onDone - onAsked} ms)`,
    );

    for (const host of ['www.shop.example', 'x.shop.example', 'shop.localhost']) {
      const page = await viaRouter(routerUrl, '', '/', {
        host,
        agent: false,
      });
      assert.equal(page.status, 503, host);
      assert.equal(page.headers['retry-after'], '120');
      assert.match(page.text, /Back at <b>14:00<\/b> & later/);
    }
    const html = await new Promise<string>((resolve, reject) => {
      http
        .get(
          new URL('/', routerUrl),
          { headers: { host: 'www.shop.example', accept: 'text/html' }, agent: false },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
    assert.match(html, /Back at &#60;b&#62;14:00&#60;\/b&#62; &#38; later/);
    const shown = await server.request('GET', '/apps/shop/maintenance', { token });
    assert.equal((shown.body as { enabled: boolean }).enabled, true);
    await sleep(300);

    const offAsked = performance.now();
    const off = await server.request('DELETE', '/apps/shop/maintenance', { token });
    const offDone = performance.now();
    assert.equal(off.status, 200);
    assert.equal((await get(routerUrl, 'www.shop.example')).status, 200);
    await sleep(300);
    await traffic.stop();

    const outside = traffic.answers.filter((a) => a.at < onAsked || a.at > offDone);
    const inside = traffic.answers.filter((a) => a.at > onDone && a.at < offAsked);
    assert.ok(outside.length > 20 && inside.length > 5, `${outside.length} / ${inside.length}`);
    t.diagnostic(
      `maintenance on answered after ${Math.round(onDone - onAsked)} ms (the slow request's ` +
        `1.5 s); ${outside.length} requests outside the window, ${inside.length} inside`,
    );
    assert.deepEqual(
      outside.filter((a) => a.status !== 200),
      [],
      'no failed request outside the maintenance window',
    );
    assert.deepEqual(
      inside.filter((a) => a.status !== 503),
      [],
      'every request inside it got the page',
    );
  });

  it('keeps maintenance across a router restart and a controller restart', async () => {
    const on = await server.request('PUT', '/apps/shop/maintenance', { token, body: {} });
    assert.equal(on.status, 200);
    const pid = (await readRouterPidFile(path.join(server.location.dataDir, 'router')))?.pid ?? 0;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    // The controller's router watch starts a new router; on port 0 it may take another port.
    const routerDir = path.join(server.location.dataDir, 'router');
    await eventually(
      'a new router runs',
      async () => {
        const file = await readRouterPidFile(routerDir);
        if (file === undefined || file.pid === pid) return false;
        routerUrl = `http://${file.listen}`;
        return (await get(routerUrl, 'shop.localhost')).status !== 0;
      },
      15_000,
    );
    const afterRouter = await get(routerUrl, 'www.shop.example');
    assert.equal(afterRouter.status, 503, 'the restarted router loaded maintenance from its file');
    assert.match(afterRouter.text, /down for maintenance/);

    await server.server.close();
    assert.equal((await get(routerUrl, 'www.shop.example')).status, 503, 'no controller');
    const options = compileServerOptions(
      {
        'data-dir': server.location.dataDir,
        listen: '127.0.0.1:0',
        'router-listen': new URL(routerUrl).host,
        'ssh-listen': '127.0.0.1:0',
      },
      { BERTH_UNIT_PORTS: testUnitPorts() },
    );
    const again: RunningServer = await startServer(options, createLogger({ level: 'silent' }));
    try {
      await sleep(500);
      assert.equal((await get(routerUrl, 'www.shop.example')).status, 503, 'new controller');
      const off = await fetch(`${again.apiUrl}/api/v1/apps/shop/maintenance`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(off.status, 200);
      const back = await get(routerUrl, 'www.shop.example');
      assert.equal(back.status, 200);
      assert.equal(back.text, 'host=www.shop.example path=/');

      // Destroying the app takes its domains along.
      const destroyed = await fetch(`${again.apiUrl}/api/v1/apps/shop`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.ok(destroyed.status < 300, String(destroyed.status));
      await eventually(
        'the hosts are gone',
        async () => (await get(routerUrl, 'www.shop.example')).status === 404,
      );
      assert.equal((await get(routerUrl, 'x.shop.example')).status, 404);
      const reused = await fetch(`${again.apiUrl}/api/v1/apps/blog/domains`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ host: 'www.shop.example' }),
      });
      assert.equal(reused.status, 201, 'the host is free once its app is gone');
    } finally {
      await again.close();
    }
  });
});
