import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { checkHealth } from '../../src/runtime/index.js';

/** A port nothing listens on: one we bound and let go. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('checkHealth', () => {
  let server: http.Server;
  let port: number;
  /** Requests seen: [path, Host header]. */
  const seen: Array<[string, string | undefined]> = [];
  let failuresLeft = 0;

  before(async () => {
    server = http.createServer((request, response) => {
      seen.push([request.url ?? '', request.headers.host]);
      if (request.url === '/hang') return; // never answers
      if (request.url === '/redirect') {
        response.writeHead(302, { location: '/' }).end();
      } else if (request.url === '/flaky' && failuresLeft-- > 0) {
        response.writeHead(503).end();
      } else if (request.url === '/broken') {
        response.writeHead(500).end();
      } else {
        response.end('ok');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const base = () => ({ host: '127.0.0.1', port, timeoutMs: 1000, attempts: 1, intervalMs: 10 });

  it('is ok when the path answers 2xx or 3xx, and asks with Host: localhost', async () => {
    assert.deepEqual(await checkHealth({ ...base(), path: '/health' }), { ok: true, attempts: 1 });
    assert.deepEqual(await checkHealth({ ...base(), path: '/redirect' }), {
      ok: true,
      attempts: 1,
    });
    assert.deepEqual(seen.at(-1), ['/redirect', 'localhost']);
  });

  it('says what the path answered when it is not healthy', async () => {
    assert.deepEqual(await checkHealth({ ...base(), path: '/broken', attempts: 2 }), {
      ok: false,
      attempts: 2,
      reason: 'GET /broken answered 500',
    });
  });

  it('tries again until the path answers', async () => {
    failuresLeft = 2;
    assert.deepEqual(await checkHealth({ ...base(), path: '/flaky', attempts: 5 }), {
      ok: true,
      attempts: 3,
    });
  });

  it('bounds each attempt by the timeout', async () => {
    const began = Date.now();
    const result = await checkHealth({ ...base(), path: '/hang', timeoutMs: 200, attempts: 2 });
    assert.deepEqual(result, { ok: false, attempts: 2, reason: 'timed out after 200 ms' });
    assert.ok(Date.now() - began < 1500);
  });

  it('reports a refused connection, over HTTP and TCP', async () => {
    const closed = await closedPort();
    assert.deepEqual(await checkHealth({ ...base(), port: closed, path: '/' }), {
      ok: false,
      attempts: 1,
      reason: 'connection refused',
    });
    assert.deepEqual(await checkHealth({ ...base(), port: closed, attempts: 3 }), {
      ok: false,
      attempts: 3,
      reason: 'connection refused',
    });
  });

  it('is ok without a path once a TCP connection opens', async () => {
    assert.deepEqual(await checkHealth(base()), { ok: true, attempts: 1 });
  });

  it('stops waiting at once when aborted', async () => {
    const abort = new AbortController();
    const began = Date.now();
    const checking = checkHealth({
      ...base(),
      path: '/hang',
      timeoutMs: 10_000,
      attempts: 10,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(), 100);
    const result = await checking;
    assert.equal(result.ok, false);
    assert.equal(result.ok ? '' : result.reason, 'aborted');
    assert.ok(Date.now() - began < 1000);
    const closed = await closedPort();
    const waiting = checkHealth({
      ...base(),
      port: closed,
      attempts: 10,
      intervalMs: 10_000,
      signal: abort.signal,
    });
    assert.deepEqual(await waiting, { ok: false, attempts: 0, reason: 'aborted' });
  });
});
