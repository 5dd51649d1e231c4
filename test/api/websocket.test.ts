import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends } from '../support/databases.js';
import { createUserAndLogin, startTestServer, type TestServer } from '../support/api.js';
import { WsTestClient } from '../support/ws-client.js';
import { nodeApp, tarGzBundle } from '../support/bundles.js';

for (const backend of backends) {
  describe(`WebSocket API on ${backend}`, () => {
    let api: TestServer;
    let alice: string;
    let bob: string;

    after(() => api?.close());

    before(async () => {
      api = await startTestServer(backend);
      alice = await createUserAndLogin(api, 'alice');
      bob = await createUserAndLogin(api, 'bob');
      await api.request('POST', '/apps', { token: alice, body: { name: 'shop' } });
    });

    it('refuses any message before login, then closes with 4401', async () => {
      const client = await WsTestClient.connect(api.url);
      const reply = await client.call('watch', { app: 'shop' });
      assert.deepEqual((reply['error'] as { code: string }).code, 'UNAUTHENTICATED');
      assert.equal((await client.closed).code, 4401);
    });

    it('refuses a bad token at login with its code', async () => {
      const client = await WsTestClient.connect(api.url);
      const reply = await client.call('login', { token: 'berth_nope' });
      assert.equal((reply['error'] as { code: string }).code, 'TOKEN_INVALID');
      assert.equal((await client.closed).code, 4401);
    });

    it('answers malformed messages with INVALID_INPUT and keeps the session', async () => {
      const client = await WsTestClient.connect(api.url);
      assert.ok((await client.call('login', { token: alice }))['result']);
      assert.equal(((await client.call('fly'))['error'] as { code: string }).code, 'INVALID_INPUT');
      assert.equal(
        ((await client.call('watch', { app: 42 }))['error'] as { code: string }).code,
        'INVALID_INPUT',
      );
      assert.equal(
        ((await client.call('watch', { app: 'missing' }))['error'] as { code: string }).code,
        'APP_NOT_FOUND',
      );
      client.close();
    });

    it("pushes an event when the watched app's config changes, from the change stream", async () => {
      const client = await WsTestClient.connect(api.url);
      const login = await client.call('login', { token: alice });
      assert.deepEqual(login['result'], { username: 'alice', scopes: ['delete', 'read', 'write'] });
      const watch = await client.call('watch', { app: 'shop' });
      const subscription = (watch['result'] as { subscription: string }).subscription;
      assert.ok(subscription);
      await api.request('PATCH', '/apps/shop/config', { token: alice, body: { COLOUR: 'blue' } });
      const pushed = await client.nextPush();
      assert.deepEqual(pushed, {
        subscription,
        event: { kind: 'config', app: 'shop', change: 'updated' },
      });
      assert.ok(!JSON.stringify(pushed).includes('blue'), 'events carry no values');
      const unsubscribed = await client.call('unsubscribe', { subscription });
      assert.deepEqual(unsubscribed['result'], { unsubscribed: subscription });
      await api.request('PATCH', '/apps/shop/config', { token: alice, body: { COLOUR: 'red' } });
      assert.ok(await client.quiet(300));
      client.close();
    });

    it('shows a deployment task and its release live, from queued to finished', async () => {
      const client = await WsTestClient.connect(api.url);
      await client.call('login', { token: alice });
      const watch = await client.call('watch', { app: 'shop' });
      const subscription = (watch['result'] as { subscription: string }).subscription;
      const queued = await api.request('POST', '/deployments/shop', {
        token: alice,
        raw: { data: await tarGzBundle(nodeApp), contentType: 'application/gzip' },
      });
      assert.equal(queued.status, 202);
      const kinds = new Set<string>();
      while (!kinds.has('release')) {
        const pushed = await client.nextPush(10_000);
        assert.equal(pushed.subscription, subscription);
        kinds.add(String(pushed.event?.['kind']));
      }
      assert.ok(kinds.has('deployment'), [...kinds].join());
      client.close();
    });

    it("pushes app-list changes for the caller's own apps only", async () => {
      const aliceClient = await WsTestClient.connect(api.url);
      await aliceClient.call('login', { token: alice });
      const watch = await aliceClient.call('watch', {});
      const subscription = (watch['result'] as { subscription: string }).subscription;
      await api.request('POST', '/apps', { token: bob, body: { name: 'bobs' } });
      await api.request('POST', '/apps', { token: alice, body: { name: 'cart' } });
      assert.deepEqual(await aliceClient.nextPush(), {
        subscription,
        event: { kind: 'app', app: 'cart', change: 'created' },
      });
      await api.request('DELETE', '/apps/cart', { token: alice });
      assert.deepEqual(await aliceClient.nextPush(), {
        subscription,
        event: { kind: 'app', app: 'cart', change: 'deleted' },
      });
      assert.ok(await aliceClient.quiet(200), "bob's app never shows up");
      aliceClient.close();
    });

    it("follows a task's events from a cursor to the end; another user's are refused", async () => {
      // The task an earlier test queued; its rollout may still be finishing.
      for (let i = 0; i < 300; i++) {
        const latest = await api.request('GET', '/deployments/shop', { token: alice });
        if (latest.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const history = await api.request('GET', '/apps/shop/deployments', { token: alice });
      const id = (history.body as { id: string }[])[0]?.id ?? '';
      assert.ok(id, 'an earlier test deployed shop');
      const stored = await api.request('GET', `/apps/shop/deployments/${id}/events?after=0`, {
        token: alice,
      });
      const all = (stored.body as { events: { id: number; kind: string }[] }).events;
      assert.equal(all.at(-1)?.kind, 'finished');
      const cursor = all[2]?.id ?? 0;

      const client = await WsTestClient.connect(api.url);
      await client.call('login', { token: alice });
      const reply = await client.call('events', { app: 'shop', deployment: id, after: cursor });
      const subscription = (reply['result'] as { subscription: string }).subscription;
      const pushed: unknown[] = [];
      for (;;) {
        const push = (await client.nextPush(10_000)) as unknown as Record<string, unknown>;
        assert.equal(push['subscription'], subscription);
        if (push['end']) {
          assert.deepEqual(push['end'], { next: all.at(-1)?.id });
          break;
        }
        pushed.push(push['event']);
      }
      assert.deepEqual(pushed, all.slice(3), 'after the cursor: each event once, in order');
      client.close();

      const other = await WsTestClient.connect(api.url);
      await other.call('login', { token: bob });
      const refused = await other.call('events', { app: 'shop', deployment: id });
      assert.equal((refused['error'] as { code: string }).code, 'ACCESS_DENIED');
      const wrong = await other.call('events', { app: 'shop', deployment: id, after: -1 });
      assert.equal((wrong['error'] as { code: string }).code, 'INVALID_INPUT');
      other.close();
    });

    it("refuses to watch another user's app", async () => {
      const client = await WsTestClient.connect(api.url);
      await client.call('login', { token: bob });
      const reply = await client.call('watch', { app: 'shop' });
      assert.equal((reply['error'] as { code: string }).code, 'ACCESS_DENIED');
      client.close();
    });

    it('stops serving a session whose token is revoked', async () => {
      const created = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'ws', scopes: ['read'] },
      });
      const { id, token } = created.body as { id: string; token: string };
      const client = await WsTestClient.connect(api.url);
      await client.call('login', { token });
      await api.request('DELETE', `/tokens/${id}`, { token: alice });
      const reply = await client.call('watch', { app: 'shop' });
      assert.equal((reply['error'] as { code: string }).code, 'TOKEN_REVOKED');
      assert.equal((await client.closed).code, 4401);
    });
  });
}

describe('WebSocket API on shutdown', () => {
  it('closes sessions with 1001 and a reason when the server stops', async () => {
    const api = await startTestServer('sqlite');
    const client = await WsTestClient.connect(api.url);
    await client.call('login', { token: api.adminToken });
    await api.close();
    const closed = await client.closed;
    assert.equal(closed.code, 1001);
    assert.match(closed.reason, /shutting down/);
  });
});
