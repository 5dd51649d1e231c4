import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exchangeRaw } from './support/raw-http.js';
import {
  startTestRouter,
  startUpstream,
  unitsRoute,
  type TestRouter,
  type TestUpstream,
} from './support/fixtures.js';

const APP = 'app.localhost';

describe('builtin router: requests RFC 9112 asks to refuse', () => {
  let router: TestRouter;
  let app: TestUpstream;

  before(async () => {
    router = await startTestRouter();
    app = await startUpstream('app');
    await router.put([unitsRoute('app', [APP], [app])]);
  });
  after(async () => {
    await router.close();
    await app.close();
  });

  /** Sends raw bytes; the answer and how many requests reached the app meanwhile. */
  async function send(bytes: string): Promise<{ status: number; text: string; reached: number }> {
    const before = app.seen.length;
    const { status, text } = await exchangeRaw(router.port, bytes, 1_000);
    return { status, text, reached: app.seen.length - before };
  }

  it('answers 400 to two Host lines, closes the connection and forwards neither', async () => {
    for (const hosts of [
      `Host: ${APP}\r\nHost: other.localhost`,
      `Host: ${APP}\r\nhost: ${APP}`,
      `Host: other.localhost\r\nHOST: ${APP}`,
    ]) {
      // A second, well-formed request behind it must not be read off the same connection.
      const answer = await send(
        `GET / HTTP/1.1\r\n${hosts}\r\n\r\nGET / HTTP/1.1\r\nHost: ${APP}\r\n\r\n`,
      );
      assert.equal(answer.status, 400, hosts);
      assert.match(answer.text, /more than one Host header/);
      assert.match(answer.text, /\r\nconnection: close\r\n/i);
      assert.equal(answer.text.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
      assert.equal(answer.reached, 0, 'nothing reached the app');
    }
    const upgrade = await send(
      `GET / HTTP/1.1\r\nHost: ${APP}\r\nHost: x.localhost\r\nConnection: upgrade\r\n` +
        'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.equal(upgrade.status, 400);
    assert.equal(upgrade.reached, 0);
  });

  it('answers 400 to an HTTP/0.9 request line, with or without headers after it', async () => {
    for (const bytes of ['GET /\r\n\r\n', `GET /\r\nHost: ${APP}\r\n\r\n`]) {
      const answer = await send(bytes);
      assert.equal(answer.status, 400, JSON.stringify(bytes));
      assert.match(answer.text, /no HTTP version/);
      assert.equal(answer.reached, 0);
    }
    // The bare line alone, then the end of the client's input.
    const before = app.seen.length;
    const bare = await exchangeRaw(router.port, 'GET /\r\n', 1_000, { end: true });
    assert.equal(bare.status, 400);
    assert.equal(app.seen.length, before);
  });

  it('answers 505 to a version other than 1.x in HTTP/1 syntax', async () => {
    const answer = await send(`GET / HTTP/2.0\r\nHost: ${APP}\r\n\r\n`);
    assert.equal(answer.status, 505);
    assert.equal(answer.reached, 0);
  });

  it('answers 400 to a Host value that is not a host name', async () => {
    for (const host of [`${APP} x`, `evil@${APP}`, `${APP}/x`, `${APP}:80:80`]) {
      const answer = await send(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(answer.status, 400, host);
      assert.equal(answer.reached, 0, host);
    }
    // What a host may be: a name with a port, an IP literal, an empty name (no route: 404).
    assert.equal(
      (await send(`GET / HTTP/1.1\r\nHost: ${APP.toUpperCase()}:7180\r\n\r\n`)).status,
      200,
    );
    assert.equal((await send('GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n')).status, 404);
    assert.equal((await send('GET / HTTP/1.1\r\nHost:\r\n\r\n')).status, 404);
  });

  it('takes an absolute-form target only for the Host it names, and passes it on as a path', async () => {
    const other = await send(`GET http://other.localhost/x HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
    assert.equal(other.status, 400);
    assert.match(other.text, /another host than the Host header/);
    assert.equal(other.reached, 0);
    const reverse = await send(`GET http://${APP}/x HTTP/1.1\r\nHost: other.localhost\r\n\r\n`);
    assert.equal(reverse.status, 400);
    const userinfo = await send(`GET http://u@${APP}/ HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
    assert.equal(userinfo.status, 400);
    const scheme = await send(`GET ftp://${APP}/ HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
    assert.equal(scheme.status, 400);

    const same = await send(
      `GET HTTP://App.Localhost:8080/a/../b?c=1 HTTP/1.1\r\nHost: ${APP}\r\n\r\n`,
    );
    assert.equal(same.status, 200);
    assert.match(same.text, /\r\nI am app GET \/a\/\.\.\/b\?c=1\r\n/);
    const bare = await send(`GET http://${APP} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
    assert.match(bare.text, /\r\nI am app GET \/\r\n/);
  });

  it('takes `*` only for OPTIONS', async () => {
    assert.equal((await send(`GET * HTTP/1.1\r\nHost: ${APP}\r\n\r\n`)).status, 400);
    const options = await send(`OPTIONS * HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
    assert.equal(options.status, 200);
    assert.equal(options.reached, 1);
  });

  // node's parser refuses these already (llhttp, strict); kept here so it stays that way.
  it('answers 400 to ambiguous framing and malformed header lines, reaching no app', async () => {
    const cases: Record<string, string> = {
      'Content-Length with Transfer-Encoding':
        'POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'two Content-Lengths':
        'POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx',
      'a Content-Length list': 'POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 1, 1\r\n\r\nx',
      'Transfer-Encoding not ending in chunked':
        'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n',
      'chunked twice':
        'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'whitespace before the colon': 'GET / HTTP/1.1\r\nHost : H\r\n\r\n',
      'obs-fold': 'GET / HTTP/1.1\r\nHost: H\r\nX-A: b\r\n c\r\n\r\n',
      'bare LF line ends': 'GET / HTTP/1.1\nHost: H\n\n',
      'whitespace before the first header': 'GET / HTTP/1.1\r\n Host: H\r\n\r\n',
      'a NUL in a value': 'GET / HTTP/1.1\r\nHost: H\r\nX-A: b\u0000c\r\n\r\n',
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const answer = await send(
        bytes.replaceAll('Host: H', `Host: ${APP}`).replace('Host : H', `Host : ${APP}`),
      );
      assert.equal(answer.status, 400, name);
      assert.equal(answer.reached, 0, name);
    }
  });
});
