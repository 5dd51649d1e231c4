import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backends } from '../support/databases.js';
import { createUserAndLogin, errorCode, startTestServer, type TestServer } from '../support/api.js';

for (const backend of backends) {
  describe(`bad input on ${backend}: precise errors, nothing half-written`, () => {
    let api: TestServer;
    let alice: string;

    after(() => api?.close());

    before(async () => {
      api = await startTestServer(backend);
      alice = await createUserAndLogin(api, 'alice');
      assert.equal(
        (await api.request('POST', '/apps', { token: alice, body: { name: 'shop' } })).status,
        201,
      );
    });

    async function appNames(): Promise<string[]> {
      const list = await api.request('GET', '/apps', { token: api.adminToken });
      return (list.body as Array<{ name: string }>).map((a) => a.name).sort();
    }

    for (const [name, why] of <Array<[string, string]>>[
      ['Shop', 'uppercase'],
      ['1shop', 'starts with a digit'],
      ['shop_1', 'underscore'],
      ['a'.repeat(40), 'longer than 39'],
      ['', 'empty'],
      ['shop.evil', 'a dot'],
      ['../etc', 'a path'],
    ]) {
      it(`refuses the app name '${name.slice(0, 12)}' (${why}) with 400 INVALID_NAME`, async () => {
        const response = await api.request('POST', '/apps', { token: alice, body: { name } });
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(errorCode(response), 'INVALID_NAME');
        assert.deepEqual(await appNames(), ['shop']);
      });
    }

    it('refuses a duplicate app with 409 APP_EXISTS', async () => {
      const response = await api.request('POST', '/apps', { token: alice, body: { name: 'shop' } });
      assert.equal(response.status, 409);
      assert.equal(errorCode(response), 'APP_EXISTS');
    });

    it('refuses an unknown field with 400 UNKNOWN_FIELD naming it', async () => {
      const response = await api.request('POST', '/apps', {
        token: alice,
        body: { name: 'other', owner: 'admin' },
      });
      assert.equal(response.status, 400);
      assert.equal(errorCode(response), 'UNKNOWN_FIELD');
      assert.match((response.body as { error: { message: string } }).error.message, /'owner'/);
      assert.deepEqual(await appNames(), ['shop']);
    });

    it('refuses wrong types with 400 INVALID_INPUT (no coercion)', async () => {
      for (const body of [{ name: 123 }, { name: ['a'] }, { name: null }, {}, [], 'shop']) {
        const response = await api.request('POST', '/apps', { token: alice, body });
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(errorCode(response), 'INVALID_INPUT');
      }
      assert.deepEqual(await appNames(), ['shop']);
    });

    it('refuses malformed JSON with 400 and an oversized body with 413', async () => {
      const malformed = await api.request('POST', '/apps', {
        token: alice,
        raw: { data: '{"name": "x"', contentType: 'application/json' },
      });
      assert.equal(malformed.status, 400);
      assert.equal(errorCode(malformed), 'INVALID_INPUT');
      const huge = await api.request('PATCH', '/apps/shop/config', {
        token: alice,
        body: { BIG: 'x'.repeat(2 * 1024 * 1024) },
      });
      assert.equal(huge.status, 413);
      assert.equal(errorCode(huge), 'PAYLOAD_TOO_LARGE');
    });

    it('answers an unknown app with 404 APP_NOT_FOUND on every app route', async () => {
      for (const [method, path] of [
        ['GET', '/apps/nope'],
        ['DELETE', '/apps/nope'],
        ['GET', '/apps/nope/config'],
        ['PATCH', '/apps/nope/config'],
        ['GET', `/apps/${'x'.repeat(200)}`],
      ] as const) {
        const response = await api.request(method, path, {
          token: alice,
          body: method === 'PATCH' ? { A: 'b' } : undefined,
        });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(errorCode(response), 'APP_NOT_FOUND');
      }
    });

    it('answers an unknown route with a JSON 404', async () => {
      const response = await api.request('GET', '/nothing-here', { token: alice });
      assert.equal(response.status, 404);
      assert.equal(errorCode(response), 'NOT_FOUND');
    });

    it('writes no config var when one key of a patch is invalid', async () => {
      assert.equal(
        (await api.request('PATCH', '/apps/shop/config', { token: alice, body: { KEEP: 'me' } }))
          .status,
        200,
      );
      const response = await api.request('PATCH', '/apps/shop/config', {
        token: alice,
        body: { GOOD: 'yes', 'BAD KEY': 'no' },
      });
      assert.equal(response.status, 400);
      assert.equal(errorCode(response), 'INVALID_INPUT');
      const config = await api.request('GET', '/apps/shop/config', { token: alice });
      assert.deepEqual(config.body, { KEEP: 'me' });
    });

    it('refuses a revoked token with 401 TOKEN_REVOKED and an expired one with 401 TOKEN_EXPIRED', async () => {
      const created = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'short', scopes: ['read'] },
      });
      const { id, token } = created.body as { id: string; token: string };
      assert.equal((await api.request('GET', '/apps', { token })).status, 200);
      assert.equal((await api.request('DELETE', `/tokens/${id}`, { token: alice })).status, 204);
      const revoked = await api.request('GET', '/apps', { token });
      assert.equal(revoked.status, 401);
      assert.equal(errorCode(revoked), 'TOKEN_REVOKED');

      const expiresAt = new Date(Date.now() + 1500).toISOString();
      const brief = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'brief', scopes: ['read'], expiresAt },
      });
      assert.equal(brief.status, 201, JSON.stringify(brief.body));
      const briefToken = (brief.body as { token: string }).token;
      assert.equal((await api.request('GET', '/apps', { token: briefToken })).status, 200);
      await sleep(1700);
      const expired = await api.request('GET', '/apps', { token: briefToken });
      assert.equal(expired.status, 401);
      assert.equal(errorCode(expired), 'TOKEN_EXPIRED');
    });

    it('refuses a token that would grant more scopes than the caller holds', async () => {
      const readOnly = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'ro', scopes: ['read', 'write'] },
      });
      const roToken = (readOnly.body as { token: string }).token;
      const escalate = await api.request('POST', '/tokens', {
        token: roToken,
        body: { name: 'up', scopes: ['delete'] },
      });
      assert.equal(escalate.status, 403);
      assert.equal(errorCode(escalate), 'SCOPE_REQUIRED');
      const adminScope = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'adm', scopes: ['admin'] },
      });
      assert.equal(adminScope.status, 403);
    });

    it('refuses unknown scopes and duplicate users', async () => {
      const scope = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'x', scopes: ['root'] },
      });
      assert.equal(scope.status, 400);
      const duplicate = await api.request('POST', '/users', {
        token: api.adminToken,
        body: { username: 'alice', password: 'another-password' },
      });
      assert.equal(duplicate.status, 409);
      assert.equal(errorCode(duplicate), 'USER_EXISTS');
    });

    it('rate-limits failed logins with 429 and Retry-After, without revealing which part was wrong', async () => {
      const wrongUser = await api.request('POST', '/auth/login', {
        body: { username: 'nobody', password: 'whatever-pass' },
      });
      const wrongPassword = await api.request('POST', '/auth/login', {
        body: { username: 'alice', password: 'wrong-password' },
      });
      assert.equal(wrongUser.status, 401);
      assert.equal(wrongPassword.status, 401);
      assert.deepEqual(wrongUser.body, wrongPassword.body);
      let limited;
      for (let i = 0; i < 10 && !limited; i++) {
        const response = await api.request('POST', '/auth/login', {
          body: { username: 'alice', password: 'wrong-password' },
        });
        if (response.status === 429) limited = response;
      }
      assert.ok(limited, 'a 429 after repeated failures');
      assert.equal(errorCode(limited), 'RATE_LIMITED');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    });
  });
}
