// The builtin router's custom hosts (exact, then one-label wildcards) and maintenance pages,
// through a real router process-in-test and real upstreams.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateRouteTable, type Route } from '../../src/router/index.js';
import {
  request,
  startTestRouter,
  startUpstream,
  unitsRoute,
  type TestRouter,
  type TestUpstream,
} from './support/fixtures.js';

describe('builtin router: custom hosts and maintenance', () => {
  let router: TestRouter;
  const upstreams: TestUpstream[] = [];

  before(async () => {
    router = await startTestRouter();
  });
  after(async () => {
    await router.close();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  async function upstream(name: string, handler?: http.RequestListener): Promise<TestUpstream> {
    const u = await startUpstream(name, handler);
    upstreams.push(u);
    return u;
  }

  it('serves exact hosts before a wildcard, a wildcard for one label only, and passes Host on', async () => {
    const shop = await upstream('shop');
    const blog = await upstream('blog');
    await router.put([
      unitsRoute('shop', ['shop.localhost', '*.example.com'], [shop]),
      unitsRoute('blog', ['blog.localhost', 'blog.example.com'], [blog]),
    ]);
    assert.equal((await request(router.port, 'a.example.com')).body, 'I am shop GET /');
    assert.equal((await request(router.port, 'WWW.Example.com:8080')).body, 'I am shop GET /');
    assert.equal((await request(router.port, 'blog.example.com')).body, 'I am blog GET /');
    assert.equal((await request(router.port, 'example.com')).status, 404);
    assert.equal((await request(router.port, 'a.b.example.com')).status, 404);
    assert.equal((await request(router.port, 'a.example.com.')).body, 'I am shop GET /');
    const seen = shop.seen.map((h) => h.host);
    assert.ok(
      seen.includes('WWW.Example.com:8080'),
      `the app sees the original Host: ${seen.join(', ')}`,
    );
  });

  it('answers 503 with Retry-After and the escaped message in maintenance, lets requests in flight finish, and serves again when off', async () => {
    let release: (() => void) | undefined;
    const slow = await upstream('slow', (req, res) => {
      req.resume();
      if (req.url === '/slow') {
        release = () => res.end('slow done');
        return;
      }
      res.end('fast');
    });
    const routes = (maintenance?: Route['maintenance']): Route[] => [
      {
        ...unitsRoute('slow', ['slow.localhost', 'slow.example.org'], [slow]),
        ...(maintenance ? { maintenance } : {}),
      },
    ];
    await router.put(routes());
    const inFlight = request(router.port, 'slow.example.org', { path: '/slow' });
    for (let i = 0; release === undefined && i < 200; i++) await sleep(10);
    assert.ok(release, 'the slow request reached the app');

    await router.put(routes({ message: 'Back at <b>5</b> & soon', retryAfterSeconds: 90 }));
    const text = await request(router.port, 'slow.localhost');
    assert.equal(text.status, 503);
    assert.equal(text.headers['retry-after'], '90');
    assert.equal(text.headers['cache-control'], 'no-store');
    assert.match(text.body, /Back at <b>5<\/b> & soon/);
    const html = await request(router.port, 'slow.example.org', {
      headers: { accept: 'text/html' },
    });
    assert.equal(html.status, 503);
    assert.match(html.body, /Back at &#60;b&#62;5&#60;\/b&#62; &#38; soon/);
    assert.doesNotMatch(html.body, /<b>5/);
    assert.deepEqual(await router.client.inflight(), { [`127.0.0.1:${slow.port}`]: 1 });

    release();
    const finished = await inFlight;
    assert.equal(finished.status, 200);
    assert.equal(finished.body, 'slow done');

    await router.put(routes());
    const back = await request(router.port, 'slow.localhost');
    assert.equal(back.status, 200);
    assert.equal(back.body, 'fast');
  });

  it('shows the default text for maintenance without a message, on a route without units too', async () => {
    await router.put([
      {
        ...unitsRoute('idle', ['idle.localhost'], []),
        maintenance: { message: null, retryAfterSeconds: 120 },
      },
    ]);
    const page = await request(router.port, 'idle.localhost');
    assert.equal(page.status, 503);
    assert.equal(page.headers['retry-after'], '120');
    assert.match(page.body, /down for maintenance/);
  });

  it('refuses tables with a malformed wildcard or maintenance', () => {
    const base = { app: 'a', target: { kind: 'units', upstreams: [] } };
    const bad: unknown[] = [
      { ...base, hosts: ['a.*.example.com'] },
      { ...base, hosts: ['*example.com'] },
      { ...base, hosts: ['*.*.example.com'] },
      { ...base, hosts: ['a.localhost'], maintenance: { message: 'x' } },
      { ...base, hosts: ['a.localhost'], maintenance: { message: '', retryAfterSeconds: 1 } },
      { ...base, hosts: ['a.localhost'], maintenance: { message: null, retryAfterSeconds: -1 } },
    ];
    for (const route of bad) {
      assert.throws(() => validateRouteTable({ generation: 1, routes: [route] }), /routes\[0\]/);
    }
    const good = validateRouteTable({
      generation: 1,
      routes: [
        {
          ...base,
          hosts: ['a.localhost', '*.example.com'],
          maintenance: { message: null, retryAfterSeconds: 60 },
        },
      ],
    });
    assert.deepEqual(good.routes[0]?.maintenance, { message: null, retryAfterSeconds: 60 });
  });
});
