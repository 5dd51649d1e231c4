import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { compileTrafficLimits, TrafficLimitError } from '../../src/router/index.js';
import { collect, connectRaw, type RawExchange } from './support/raw-http.js';
import {
  request,
  startTestRouter,
  startUpstream,
  unitsRoute,
  type TestRouter,
  type TestUpstream,
} from './support/fixtures.js';

const APP = 'app.localhost';
const HEADERS_MS = 1_000;
const REQUEST_MS = 1_500;
const KEEP_ALIVE_MS = 2_000;
/** How late a close may come: the check interval (100 ms here) and a loaded 2-core machine. */
const MARGIN_MS = 600;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: net.Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) {
      clearInterval(timer);
      return;
    }
    socket.write(text[i % text.length] as string);
    i++;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

function assertClosedAtTimeout(exchange: RawExchange, timeoutMs: number, what: string): void {
  assert.ok(
    exchange.closedAfterMs >= timeoutMs - 50 && exchange.closedAfterMs <= timeoutMs + MARGIN_MS,
    `${what} closed after ${Math.round(exchange.closedAfterMs)} ms, not at ${timeoutMs} ms`,
  );
}

describe('builtin router: slow clients and connection limits', () => {
  let router: TestRouter;
  let app: TestUpstream;

  before(async () => {
    router = await startTestRouter({
      limits: {
        headersTimeoutMs: HEADERS_MS,
        requestTimeoutMs: REQUEST_MS,
        keepAliveTimeoutMs: KEEP_ALIVE_MS,
        maxConnectionsPerAddress: 100,
      },
    });
    app = await startUpstream('app', (req, res) => {
      if (req.url === '/stream') {
        // Longer than every timeout, with a silence longer than the headers and request ones.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        const gaps = [300, REQUEST_MS + 200, 300, 300];
        const next = (n: number) => {
          const gap = gaps[n];
          if (gap === undefined) {
            res.end('data: end\n\n');
            return;
          }
          setTimeout(() => {
            res.write(`data: ${n + 2}\n\n`);
            next(n + 1);
          }, gap);
        };
        next(0);
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await router.put([unitsRoute('app', [APP], [app])]);
  });
  after(async () => {
    await router.close();
    await app.close();
  });

  // A timeout that no longer works would leave these connections open: fail, do not hang.
  it(
    'closes slow-header connections at the headers timeout while normal requests stay fast',
    { timeout: 15_000 },
    async (t) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      const latencies: number[] = [];
      let failures = 0;
      let running = true;
      const loop = (async () => {
        while (running) {
          const started = performance.now();
          const answer = await request(router.port, APP, { agent }).catch(() => undefined);
          latencies.push(performance.now() - started);
          if (answer?.status !== 200) failures++;
          await sleep(5);
        }
      })();

      const slow: Promise<[string, RawExchange]>[] = [];
      for (let i = 0; i < 40; i++) {
        const socket = await connectRaw(router.port);
        const closed = collect(socket);
        // Three kinds: a header block one byte at a time; empty lines, which node's parser skips
        // before a request starts; nothing at all.
        const kind = ['header bytes', 'empty lines', 'silence'][i % 3] as string;
        if (kind === 'header bytes') {
          trickle(socket, `GET / HTTP/1.1\r\nHost: ${APP}\r\nX-Slow: ${'a'.repeat(200)}`, 20);
        } else if (kind === 'empty lines') {
          trickle(socket, '\r\n', 20);
        }
        slow.push(closed.then((exchange) => [kind, exchange]));
      }
      const results = await Promise.all(slow);
      running = false;
      await loop;
      agent.destroy();

      for (const [kind, exchange] of results) {
        // Measured from each connection's own start, so the 40 connects' spread does not count.
        assertClosedAtTimeout(exchange, HEADERS_MS, kind);
        assert.equal(exchange.status, 408, `${kind}: ${exchange.text}`);
      }
      const latest = Math.max(...results.map(([, exchange]) => exchange.closedAfterMs));
      t.diagnostic(
        `40 slow connections closed by ${latest.toFixed(0)} ms (timeout ${HEADERS_MS} ms)`,
      );
      const sorted = [...latencies].sort((a, b) => a - b);
      const p50 = percentile(sorted, 0.5);
      const max = sorted[sorted.length - 1] ?? NaN;
      t.diagnostic(
        `${latencies.length} normal requests meanwhile: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
      );
      assert.equal(failures, 0);
      assert.ok(latencies.length >= 20, `only ${latencies.length} requests went through`);
      assert.ok(p50 < 50, `p50 ${p50} ms`);
      assert.ok(max < 500, `max ${max} ms`);
    },
  );

  it(
    'closes a request whose body is still arriving at the request timeout',
    { timeout: 15_000 },
    async () => {
      const socket = await connectRaw(router.port);
      const closed = collect(socket);
      socket.write(`POST / HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 1000\r\n\r\n`);
      trickle(socket, 'x', 50);
      const exchange = await closed;
      assertClosedAtTimeout(exchange, REQUEST_MS, 'a slow body');
      assert.equal(exchange.status, 408, exchange.text);
    },
  );

  it(
    'closes a kept-alive connection idle for the keep-alive timeout',
    { timeout: 15_000 },
    async () => {
      const socket = await connectRaw(router.port);
      const closed = collect(socket);
      socket.write(`GET / HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
      const exchange = await closed;
      assert.equal(exchange.status, 200);
      // Node advertises `Keep-Alive: timeout=2` and holds on one second longer, so the client is
      // the side that closes.
      assert.match(exchange.text, /Keep-Alive: timeout=2\r\n/);
      assertClosedAtTimeout(exchange, KEEP_ALIVE_MS + 1_000, 'an idle connection');
    },
  );

  it('lets a response stream for longer than the request timeout, silences included', async () => {
    const started = performance.now();
    const answer = await request(router.port, APP, { path: '/stream' });
    const elapsed = performance.now() - started;
    assert.equal(answer.status, 200);
    assert.ok(elapsed > REQUEST_MS + HEADERS_MS, `streamed for ${elapsed} ms only`);
    assert.equal(answer.body.match(/^data: /gm)?.length, 6);
    assert.match(answer.body, /data: end\n\n$/);
  });

  it('keeps a WebSocket open past every timeout', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => {
      socket.on('message', (data) => socket.send(`echo: ${(data as Buffer).toString()}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await router.put([
        unitsRoute('app', [APP], [app]),
        {
          app: 'ws',
          hosts: ['ws.localhost'],
          target: { kind: 'units', upstreams: [{ host: '127.0.0.1', port, unitId: 'ws.web.1' }] },
        },
      ]);
      const client = new WebSocket(`ws://127.0.0.1:${router.port}/`, {
        headers: { host: 'ws.localhost' },
      });
      await new Promise((resolve, reject) => {
        client.once('open', resolve);
        client.once('error', reject);
      });
      let closed = false;
      client.once('close', () => (closed = true));
      await sleep(KEEP_ALIVE_MS + 500);
      assert.equal(closed, false, 'the WebSocket was closed');
      const echo = new Promise<string>((resolve) =>
        client.once('message', (data) => resolve((data as Buffer).toString())),
      );
      client.send('still here');
      assert.equal(await echo, 'echo: still here');
      client.close();
    } finally {
      await new Promise<void>((resolve) => {
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
});

describe('builtin router: connections per address', () => {
  let router: TestRouter;
  let app: TestUpstream;
  const CAP = 5;

  before(async () => {
    router = await startTestRouter({ limits: { maxConnectionsPerAddress: CAP } });
    app = await startUpstream('app');
    await router.put([unitsRoute('app', [APP], [app])]);
  });
  after(async () => {
    await router.close();
    await app.close();
  });

  /** A connection from `localAddress` (all of 127/8 is loopback on Linux). */
  function connectFrom(localAddress: string): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: router.port, host: '127.0.0.1', localAddress }, () =>
        resolve(socket),
      );
      socket.once('error', reject);
    });
  }

  it('closes connections past the cap from one address, not from another', async () => {
    const held = await Promise.all(Array.from({ length: CAP }, () => connectFrom('127.0.0.1')));
    try {
      const extra = await connectFrom('127.0.0.1');
      const refused = collect(extra);
      extra.write(`GET / HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
      const exchange = await refused;
      assert.equal(exchange.status, 0, 'closed without an answer');
      assert.ok(exchange.closedAfterMs < 500, `closed after ${exchange.closedAfterMs} ms`);

      // Another address is not held back by the first one's connections.
      const other = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: router.port,
            localAddress: '127.0.0.2',
            headers: { host: APP },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.once('error', reject);
        req.end();
      });
      assert.equal(other, 200);

      // A connection that closes gives its place back.
      const first = held.shift() as net.Socket;
      const gone = collect(first);
      first.destroy();
      await gone;
      await sleep(50);
      assert.equal((await request(router.port, APP)).status, 200);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('refuses limits node:http could not use', () => {
    assert.throws(() => compileTrafficLimits({ headersTimeoutMs: 0 }), TrafficLimitError);
    assert.throws(() => compileTrafficLimits({ maxConnectionsPerAddress: 1.5 }), TrafficLimitError);
    assert.throws(
      () => compileTrafficLimits({ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 }),
      TrafficLimitError,
    );
    const defaults = compileTrafficLimits({});
    assert.deepEqual(defaults, {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 300_000,
      keepAliveTimeoutMs: 65_000,
      maxConnectionsPerAddress: 256,
      checkIntervalMs: 1_000,
    });
    assert.ok(Object.isFrozen(defaults));
  });
});
