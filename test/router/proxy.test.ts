import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import {
  request,
  startTestRouter,
  startUpstream,
  unitsRoute,
  type TestRouter,
  type TestUpstream,
} from './support/fixtures.js';

function assertNoStack(body: string): void {
  assert.doesNotMatch(body, /\bat .*\(|node:internal|Error:|\.ts:\d+/);
}

describe('builtin router: proxying', () => {
  let router: TestRouter;
  const upstreams: TestUpstream[] = [];

  before(async () => {
    router = await startTestRouter({ upstreamTimeoutMs: 300 });
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

  it('routes by Host header (port stripped, any case) and answers 404 for an unknown host', async () => {
    const one = await upstream('one');
    const two = await upstream('two');
    await router.put([
      unitsRoute('one', ['one.localhost', 'www.one.test'], [one]),
      unitsRoute('two', ['two.localhost'], [two]),
    ]);
    assert.equal((await request(router.port, 'one.localhost')).body, 'I am one GET /');
    assert.equal((await request(router.port, 'ONE.Localhost:7180')).body, 'I am one GET /');
    assert.equal(
      (await request(router.port, 'www.one.test', { path: '/a?b=1' })).body,
      'I am one GET /a?b=1',
    );
    assert.equal((await request(router.port, 'two.localhost')).body, 'I am two GET /');

    const missing = await request(router.port, 'nope.localhost:80');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /no app at nope\.localhost/);
    const html = await request(router.port, 'nope.localhost', { headers: { accept: 'text/html' } });
    assert.match(html.headers['content-type'] ?? '', /text\/html/);
    assert.match(html.body, /<h1>404 Not Found<\/h1>.*no app at nope\.localhost/s);
  });

  it('answers 503 for a route without units and 502 for a unit that refuses, without a stack', async () => {
    const gone = await upstream('gone');
    const port = gone.port;
    await gone.close();
    await router.put([
      unitsRoute('empty', ['empty.localhost'], []),
      {
        app: 'dead',
        hosts: ['dead.localhost'],
        target: { kind: 'units', upstreams: [{ host: '127.0.0.1', port, unitId: 'dead.web.1' }] },
      },
    ]);
    const empty = await request(router.port, 'empty.localhost');
    assert.equal(empty.status, 503);
    assert.match(empty.body, /empty has no running web process/);
    assertNoStack(empty.body);
    const dead = await request(router.port, 'dead.localhost', { headers: { accept: 'text/html' } });
    assert.equal(dead.status, 502);
    assert.match(dead.body, /dead could not be reached/);
    assert.doesNotMatch(dead.body, new RegExp(String(port)));
    assertNoStack(dead.body);
  });

  it('answers 502 for a bad response and 504 for a unit that does not answer in time', async () => {
    const broken = await upstream('broken', (req) => req.socket.end('HTTP/1.1 abc\r\n\r\n'));
    const slow = await upstream('slow', () => undefined);
    await router.put([
      unitsRoute('broken', ['broken.localhost'], [broken]),
      unitsRoute('slow', ['slow.localhost'], [slow]),
    ]);
    const bad = await request(router.port, 'broken.localhost');
    assert.equal(bad.status, 502);
    assertNoStack(bad.body);
    const timedOut = await request(router.port, 'slow.localhost');
    assert.equal(timedOut.status, 504);
    assert.match(timedOut.body, /slow did not answer in time/);
  });

  it('spreads requests round-robin over three units and reuses keep-alive connections', async () => {
    const units = [await upstream('rr1'), await upstream('rr2'), await upstream('rr3')];
    await router.put([unitsRoute('rr', ['rr.localhost'], units)]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const { body } = await request(router.port, 'rr.localhost', { agent });
      const name = body.split(' ')[2] ?? '';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    agent.destroy();
    assert.deepEqual(Object.fromEntries(counts), { rr1: 10, rr2: 10, rr3: 10 });
    // Sequential requests need one connection per unit, reused for all ten of its requests.
    assert.deepEqual(
      units.map((u) => u.connections),
      [1, 1, 1],
    );
  });

  it('adds X-Forwarded-* and keeps a well-formed X-Request-Id, or makes one', async () => {
    const echo = await upstream('echo');
    await router.put([unitsRoute('echo', ['echo.localhost'], [echo])]);
    const kept = await request(router.port, 'echo.localhost:8080', {
      headers: {
        'x-request-id': 'abc-123',
        'x-forwarded-for': '203.0.113.7',
        connection: 'keep-alive, x-secret',
        'x-secret': 'hop',
      },
    });
    const seen = echo.seen.at(-1)!;
    assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'echo.localhost:8080');
    assert.equal(seen['x-request-id'], 'abc-123');
    assert.equal(seen['x-secret'], undefined, 'headers named in Connection are hop-by-hop');
    assert.equal(seen.host, 'echo.localhost:8080');
    assert.equal(kept.headers['x-request-id'], 'abc-123');
    assert.equal(kept.headers['x-upstream'], 'echo');

    const made = await request(router.port, 'echo.localhost', {
      headers: { 'x-request-id': 'bad id\twith spaces' },
    });
    const id = made.headers['x-request-id'];
    assert.match(String(id), /^[0-9a-f-]{36}$/);
    assert.equal(echo.seen.at(-1)!['x-request-id'], id);
    assert.equal(echo.seen.at(-1)!['x-forwarded-for'], '127.0.0.1');
    const notFound = await request(router.port, 'nothing.localhost');
    assert.match(String(notFound.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('passes request bodies and streams response bodies both ways', async () => {
    const echo = await upstream('body', (req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      req.pipe(res);
    });
    await router.put([unitsRoute('body', ['body.localhost'], [echo])]);
    const big = 'x'.repeat(300_000);
    const res = await request(router.port, 'body.localhost', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.length, big.length);
  });

  it('upgrades WebSockets through the router, forwarding headers, and closes both sides', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    let upgradeHeaders: http.IncomingHttpHeaders | undefined;
    wss.on('connection', (socket, req) => {
      upgradeHeaders = req.headers;
      socket.on('message', (data) => socket.send(`echo: ${(data as Buffer).toString()}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await router.put([
        {
          app: 'ws',
          hosts: ['ws.localhost'],
          target: { kind: 'units', upstreams: [{ host: '127.0.0.1', port, unitId: 'ws.web.1' }] },
        },
      ]);
      const client = new WebSocket(`ws://127.0.0.1:${router.port}/chat`, {
        headers: { host: 'ws.localhost' },
      });
      await new Promise((resolve, reject) => {
        client.once('open', resolve);
        client.once('error', reject);
      });
      const reply = new Promise<string>((resolve) =>
        client.once('message', (d) => resolve((d as Buffer).toString())),
      );
      client.send('hello');
      assert.equal(await reply, 'echo: hello');
      assert.equal(upgradeHeaders?.['x-forwarded-proto'], 'http');
      assert.ok(upgradeHeaders?.['x-request-id']);
      // The unit going away closes the client's side too.
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      for (const socket of wss.clients) socket.terminate();
      await closed;

      const unknown = new WebSocket(`ws://127.0.0.1:${router.port}/`, {
        headers: { host: 'nobody.localhost' },
      });
      const status = await new Promise<number>((resolve) =>
        unknown.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
      );
      assert.equal(status, 404);
      unknown.on('error', () => undefined);
    } finally {
      wss.close();
      server.close();
    }
  });
});
