// The classes of hostile input a probe of issue 12 found, kept refused: each through the HTTP API
// of a real server. One SQLite server for all of them (the rules do not depend on the store),
// so the file stays fast; nothing here deploys anything.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { rawTar, rawTarGz, rawZip, type RawTarEntry } from '../build/support/archives.js';
import { zipBundle } from '../support/bundles.js';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  type ApiResponse,
  type TestServer,
} from '../support/api.js';

/** A pax record: `<length> <key>=<value>\n`, the length counting the whole record in bytes. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return `${length}${body}`;
}

/** POST /auth/login from a loopback address of our choosing (all of 127/8 is local). */
function loginFrom(
  url: string,
  localAddress: string,
  body: { username: string; password: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      new URL('/api/v1/auth/login', url),
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

function message(response: ApiResponse): string {
  return (response.body as { error?: { message?: string } } | undefined)?.error?.message ?? '';
}

function reason(response: ApiResponse): string | undefined {
  return (response.body as { error?: { reason?: string } } | undefined)?.error?.reason;
}

/** A project that passes every check at the door, so only the hostile part can be refused. */
const procfile: RawTarEntry = { name: 'Procfile', body: 'web: ./server\n' };

describe('hostile input through the API: refused at the door', () => {
  let api: TestServer;
  let alice: string;
  let bob: string;

  after(() => api?.close());

  before(async () => {
    api = await startTestServer('sqlite');
    alice = await createUserAndLogin(api, 'alice');
    bob = await createUserAndLogin(api, 'bob');
    for (const [token, name] of [
      [alice, 'shop'],
      [bob, 'blog'],
    ] as const) {
      const created = await api.request('POST', '/apps', { token, body: { name } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });

  async function assertNothingQueued(app: string): Promise<void> {
    const latest = await api.request('GET', `/deployments/${app}`, { token: alice });
    assert.equal(latest.status, 404, JSON.stringify(latest.body));
  }

  async function upload(data: Buffer, contentType: string, query = ''): Promise<ApiResponse> {
    return api.request('POST', `/deployments/shop${query}`, {
      token: alice,
      raw: { data, contentType },
    });
  }

  describe('the initial admin token', () => {
    it('is not in the log of the first start, which names only its file', () => {
      const log = api.logText();
      assert.ok(!log.includes(api.adminToken), 'the admin token is in the log');
      const line = log.split('\n').find((l) => l.includes('created user admin'));
      assert.match(line ?? '', /initial-admin-token/);
    });
  });

  describe('bundle entries', () => {
    it('refuses a tar entry whose pax path holds a NUL byte (BUNDLE_INVALID, INVALID_PATH)', async () => {
      const pax = paxRecord('path', 'evil\0name.txt');
      const tar = rawTarGz([
        procfile,
        { name: 'PaxHeader/evil', type: 'x', body: pax },
        { name: 'placeholder.txt', body: 'hi' },
      ]);
      const response = await upload(tar, 'application/gzip');
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(errorCode(response), 'BUNDLE_INVALID');
      assert.equal(reason(response), 'INVALID_PATH');
      assert.match(message(response), /NUL/);
      await assertNothingQueued('shop');
    });

    it('refuses a GNU long name holding a NUL byte', async () => {
      const tar = rawTarGz([
        procfile,
        { name: '././@LongLink', type: 'L', body: 'evil\0name.txt\0' },
        { name: 'placeholder.txt', body: 'hi' },
      ]);
      const response = await upload(tar, 'application/gzip');
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(reason(response), 'INVALID_PATH');
      await assertNothingQueued('shop');
    });

    for (const [what, name, expected] of [
      ['a ../ path', '../x', 'PATH_ESCAPES'],
      ['a nested ../ path', 'a/../../x', 'PATH_ESCAPES'],
      ['an absolute path', '/etc/x', 'ABSOLUTE_PATH'],
    ] as const) {
      it(`refuses ${what} in a tar and in a zip (${expected})`, async () => {
        const tar = await upload(rawTarGz([procfile, { name, body: 'x' }]), 'application/gzip');
        assert.equal(tar.status, 400, JSON.stringify(tar.body));
        assert.equal(reason(tar), expected);
        const zip = await upload(
          rawZip([
            { name: 'Procfile', body: 'web: ./server\n' },
            { name, body: 'x' },
          ]),
          'application/zip',
        );
        assert.equal(zip.status, 400, JSON.stringify(zip.body));
        assert.equal(reason(zip), expected);
        await assertNothingQueued('shop');
      });
    }

    it('refuses a symlink pointing outside, in a tar and in a zip (LINK_ENTRY)', async () => {
      const tar = await upload(
        rawTarGz([procfile, { name: 'passwd', type: '2', linkname: '/etc/passwd' }]),
        'application/gzip',
      );
      assert.equal(tar.status, 400, JSON.stringify(tar.body));
      assert.equal(reason(tar), 'LINK_ENTRY');
      const zip = await upload(
        rawZip([
          { name: 'Procfile', body: 'web: ./server\n' },
          { name: 'up', body: '../../..', mode: 0o120777 },
        ]),
        'application/zip',
      );
      assert.equal(zip.status, 400, JSON.stringify(zip.body));
      assert.equal(reason(zip), 'LINK_ENTRY');
      await assertNothingQueued('shop');
    });

    it('refuses an uncompressed tar holding the same ../ entry', async () => {
      const response = await upload(
        rawTar([procfile, { name: '../x', body: 'x' }]),
        'application/octet-stream',
      );
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(reason(response), 'PATH_ESCAPES');
    });
  });

  describe('bundle types and sizes', () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'image/png']) {
      it(`answers 415 to a bundle sent as ${contentType}, naming the accepted types`, async () => {
        const response = await upload(rawTarGz([procfile]), contentType);
        assert.equal(response.status, 415, JSON.stringify(response.body));
        assert.match(message(response), /application\/zip, application\/gzip/);
        assert.match(message(response), new RegExp(`got '${contentType.replace('/', '\\/')}'`));
        await assertNothingQueued('shop');
      });
    }

    it('answers 413 to a gzip and a zip bomb, naming the limit', async () => {
      const zeros = Buffer.alloc(8 * 1024 * 1024);
      const tarBomb = gzipSync(rawTar([procfile, { name: 'zeros', body: zeros }]));
      const zipBomb = await zipBundle({ Procfile: 'web: ./server\n', zeros: zeros.toString() });
      for (const [bomb, contentType] of [
        [tarBomb, 'application/gzip'],
        [zipBomb, 'application/zip'],
      ] as const) {
        const started = Date.now();
        const response = await upload(bomb, contentType);
        assert.equal(response.status, 413, JSON.stringify(response.body));
        assert.equal(errorCode(response), 'BUNDLE_INVALID');
        assert.equal(reason(response), 'COMPRESSION_RATIO');
        assert.match(message(response), /more than 200 times/);
        assert.ok(Date.now() - started < 5000, 'slow to refuse');
      }
      await assertNothingQueued('shop');
    });
  });

  describe('config keys Berth owns or that change how a process starts', () => {
    async function config(): Promise<Record<string, unknown>> {
      const reply = await api.request('GET', '/apps/shop/config', { token: alice });
      return reply.body as Record<string, unknown>;
    }

    for (const key of ['PORT', 'BERTH_APP', 'BERTH_ANYTHING']) {
      it(`refuses ${key} in a config patch with 400 and the rule, even with allowRuntimeKeys`, async () => {
        for (const query of ['', '?allowRuntimeKeys=true']) {
          const response = await api.request('PATCH', `/apps/shop/config${query}`, {
            token: alice,
            body: { FINE: 'yes', [key]: '1' },
          });
          assert.equal(response.status, 400, JSON.stringify(response.body));
          assert.equal(errorCode(response), 'INVALID_INPUT');
          assert.match(message(response), new RegExp(`"${key}" is refused: PORT and every BERTH_`));
        }
        assert.deepEqual(await config(), {});
      });
    }

    for (const key of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'NODE_OPTIONS']) {
      it(`refuses ${key} in a config patch unless the owner passes allowRuntimeKeys`, async () => {
        const refused = await api.request('PATCH', '/apps/shop/config', {
          token: alice,
          body: { [key]: '/tmp/x' },
        });
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.match(message(refused), /allowRuntimeKeys=true/);
        assert.deepEqual(await config(), {});

        const allowed = await api.request('PATCH', '/apps/shop/config?allowRuntimeKeys=true', {
          token: alice,
          body: { [key]: '/tmp/x' },
        });
        assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
        const unset = await api.request('PATCH', '/apps/shop/config', {
          token: alice,
          body: { [key]: null },
        });
        assert.equal(unset.status, 200, 'a refused key may always be unset');
        assert.deepEqual(await config(), {});
      });
    }

    it('refuses them in per-process-type config the same way', async () => {
      for (const [vars, query] of [
        [{ PORT: '80' }, '?allowRuntimeKeys=true'],
        [{ BERTH_UNIT: 'x' }, ''],
        [{ NODE_OPTIONS: '--require /tmp/evil.js' }, ''],
      ] as const) {
        const response = await api.request('PUT', `/deployments/configs/shop${query}`, {
          token: alice,
          body: { web: vars },
        });
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.match(message(response), /is refused: /);
      }
      const get = await api.request('GET', '/deployments/configs/shop', { token: alice });
      assert.deepEqual(get.body, {});
      const allowed = await api.request('PUT', '/deployments/configs/shop?allowRuntimeKeys=true', {
        token: alice,
        body: { web: { NODE_OPTIONS: '--max-old-space-size=256' } },
      });
      assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
      const cleared = await api.request('PUT', '/deployments/configs/shop', {
        token: alice,
        body: { web: {} },
      });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    });

    it('refuses berth.json samples of them with autoconfigure before queuing, leaving no key', async () => {
      for (const [key, query] of [
        ['LD_PRELOAD', '?autoconfigure=true'],
        ['NODE_OPTIONS', '?autoconfigure=true'],
        ['BERTH_RELEASE', '?autoconfigure=true'],
        // PORT can never be config, so declaring it at all would fail every deploy.
        ['PORT', ''],
      ] as const) {
        const berthJson = JSON.stringify({
          env: { GREETING: { value: 'hi' }, [key]: { value: '/tmp/evil.so' } },
        });
        const response = await upload(
          rawTarGz([procfile, { name: 'berth.json', body: berthJson }]),
          'application/gzip',
          query,
        );
        assert.equal(response.status, 400, `${key}: ${JSON.stringify(response.body)}`);
        assert.equal(errorCode(response), 'BUNDLE_INVALID');
        assert.equal(reason(response), 'BERTH_JSON_ENV_REFUSED');
        assert.match(message(response), new RegExp(`'${key}' is refused: `));
      }
      await assertNothingQueued('shop');
      assert.deepEqual(await config(), {});
    });
  });

  describe('passwords', () => {
    it('refuses a password over 1,024 bytes at login at once, for any user (400)', async () => {
      for (const password of ['x'.repeat(900 * 1024), 'é'.repeat(600)]) {
        for (const username of ['alice', 'nobody']) {
          const started = Date.now();
          const response = await api.request('POST', '/auth/login', {
            body: { username, password },
          });
          assert.equal(response.status, 400, JSON.stringify(response.body));
          assert.equal(errorCode(response), 'INVALID_INPUT');
          assert.ok(Date.now() - started < 2000, 'slow to refuse');
        }
      }
    });

    it('limits failed logins per address: a flood from one does not lock the owner out', async () => {
      const password = 'pw-alice-correct-horse';
      const attacker = '127.0.0.2';
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        statuses.push(
          await loginFrom(api.url, attacker, { username: 'alice', password: `guess ${i}` }),
        );
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
      assert.equal(await loginFrom(api.url, '127.0.0.3', { username: 'alice', password }), 200);
      assert.equal(await loginFrom(api.url, attacker, { username: 'alice', password }), 429);
    });

    it('refuses a new password that is short, common (in any case) or over 1,024 bytes', async () => {
      for (const [password, rule] of [
        ['elevenchars', /at least 12 characters/],
        ['QWERTY123456', /most common passwords/],
        ['1qaz2wsx3edc', /most common passwords/],
        ['é'.repeat(600), /at most 1024 bytes/],
      ] as const) {
        const response = await api.request('POST', '/users', {
          token: api.adminToken,
          body: { username: 'carol', password },
        });
        assert.equal(response.status, 400, `${password.slice(0, 12)}: ${response.status}`);
        assert.match(message(response), rule);
      }
      const users = await api.request('GET', '/users', { token: api.adminToken });
      assert.ok(!(users.body as { username: string }[]).some((u) => u.username === 'carol'));
    });
  });

  describe('names and tokens', () => {
    it('refuses HEAD and names git refuses as a deploy branch with 400', async () => {
      for (const deployBranch of ['HEAD', '@{-1}', 'a..b', '-x', 'main.lock', 'x'.repeat(101)]) {
        const response = await api.request('PUT', '/apps/shop/git', {
          token: alice,
          body: { deployBranch },
        });
        assert.equal(response.status, 400, `${deployBranch}: ${JSON.stringify(response.body)}`);
      }
      const settings = await api.request('GET', '/apps/shop/git', { token: alice });
      assert.equal((settings.body as { deployBranch: string }).deployBranch, 'main');
    });

    it('refuses an over-long app name with 400 INVALID_NAME', async () => {
      const response = await api.request('POST', '/apps', {
        token: alice,
        body: { name: `a${'b'.repeat(300)}` },
      });
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.ok(['INVALID_NAME', 'INVALID_INPUT'].includes(errorCode(response) ?? ''));
    });

    it('answers 401 to a malformed, an unknown, an expired and a revoked token', async () => {
      const malformed = await api.request('GET', '/apps', { token: 'not-a-token' });
      assert.equal(malformed.status, 401);
      assert.equal(errorCode(malformed), 'TOKEN_INVALID');
      const unknown = await api.request('GET', '/apps', { token: `berth_${'A'.repeat(43)}` });
      assert.equal(unknown.status, 401);

      const expiring = await api.request('POST', '/tokens', {
        token: alice,
        body: {
          name: 'soon',
          scopes: ['read'],
          expiresAt: new Date(Date.now() + 1500).toISOString(),
        },
      });
      assert.equal(expiring.status, 201, JSON.stringify(expiring.body));
      const revoked = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'gone', scopes: ['read'] },
      });
      const { id, token } = revoked.body as { id: string; token: string };
      assert.equal((await api.request('DELETE', `/tokens/${id}`, { token: alice })).status, 204);
      const afterRevoke = await api.request('GET', '/apps', { token });
      assert.equal(afterRevoke.status, 401);
      assert.equal(errorCode(afterRevoke), 'TOKEN_REVOKED');

      await new Promise((resolve) => setTimeout(resolve, 1600));
      const expired = await api.request('GET', '/apps', {
        token: (expiring.body as { token: string }).token,
      });
      assert.equal(expired.status, 401);
      assert.equal(errorCode(expired), 'TOKEN_EXPIRED');
    });

    it("answers 403 to a token without the scope and to another user's app", async () => {
      const created = await api.request('POST', '/tokens', {
        token: alice,
        body: { name: 'read only', scopes: ['read'] },
      });
      const readOnly = (created.body as { token: string }).token;
      const write = await api.request('PATCH', '/apps/shop/config', {
        token: readOnly,
        body: { A: 'b' },
      });
      assert.equal(write.status, 403);
      assert.equal(errorCode(write), 'SCOPE_REQUIRED');

      for (const [method, path] of [
        ['GET', '/apps/blog'],
        ['GET', '/apps/blog/config'],
        ['PATCH', '/apps/blog/config'],
        ['DELETE', '/apps/blog'],
      ] as const) {
        const response = await api.request(method, path, {
          token: alice,
          ...(method === 'PATCH' ? { body: { A: 'b' } } : {}),
        });
        assert.equal(response.status, 403, `${method} ${path}: ${JSON.stringify(response.body)}`);
        assert.equal(errorCode(response), 'ACCESS_DENIED');
      }
    });
  });
});
