// The API's limits come from the compiled server options, and only from there: a server whose
// options say less refuses a body, a WebSocket message and a subscription past them, and the
// defaults are what the components used to write down themselves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileServerOptions } from '../../src/server/index.js';
import { errorCode, startTestServer, type TestServer } from '../support/api.js';
import { compiledDefaults } from '../support/compiled-defaults.js';
import { WsTestClient } from '../support/ws-client.js';

describe('limits compiled into the server options', () => {
  it('default the body limit, the WebSocket limits and the router check interval', () => {
    const defaults = compileServerOptions({}, {});
    assert.equal(defaults.bodyLimit, 1024 * 1024);
    assert.equal(defaults.routerCheckIntervalMs, 3000);
    assert.deepEqual(defaults.websocketLimits, {
      maxMessageBytes: 64 * 1024,
      loginTimeoutMs: 10_000,
      maxSubscriptions: 32,
      maxBufferedBytes: 4 * 1024 * 1024,
      recheckTokenMs: 30_000,
    });
    assert.ok(Object.isFrozen(defaults.websocketLimits));
  });

  describe('a server compiled with smaller ones', () => {
    let api: TestServer;
    before(async () => {
      api = await startTestServer('sqlite', {
        compiled: {
          bodyLimit: 4096,
          websocketLimits: {
            ...compiledDefaults.websocketLimits,
            maxMessageBytes: 1024,
            maxSubscriptions: 2,
          },
        },
      });
    });
    after(() => api.close());

    it('refuses a JSON body over its body limit with 413', async () => {
      const small = await api.request('POST', '/apps', {
        token: api.adminToken,
        body: { name: 'shop' },
      });
      assert.equal(small.status, 201);
      const over = await api.request('PATCH', '/apps/shop/config', {
        token: api.adminToken,
        body: { BIG: 'x'.repeat(8 * 1024) },
      });
      assert.equal(over.status, 413);
      assert.equal(errorCode(over), 'PAYLOAD_TOO_LARGE');
    });

    it('refuses a subscription past its WebSocket limit', async () => {
      const client = await WsTestClient.connect(api.url);
      assert.ok((await client.call('login', { token: api.adminToken }))['result']);
      assert.ok((await client.call('watch', {}))['result']);
      assert.ok((await client.call('watch', {}))['result']);
      const third = await client.call('watch', {});
      assert.match(
        String((third['error'] as { message: string }).message),
        /at most 2 subscriptions per connection/,
      );
      client.close();
    });

    it('closes a connection whose message is over its WebSocket limit', async () => {
      const client = await WsTestClient.connect(api.url);
      client.sendRaw(
        JSON.stringify({ id: 1, method: 'login', params: { token: 'x'.repeat(2048) } }),
      );
      const closed = await client.closed;
      assert.equal(closed.code, 1009, 'message too big');
    });
  });
});
