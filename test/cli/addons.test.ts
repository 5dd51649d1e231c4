// `berth addons` as a user runs it, against a real server with real Redis servers: create with
// an app, list, info with and without --reveal, attach under an alias, detach, and destroy,
// whose wrong confirmation and attached state are refused with a non-zero exit and nothing lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { cli } from '../support/cli.js';

describe('berth addons', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startTestServer('sqlite');
    env = { BERTH_SERVER: server.url, BERTH_TOKEN: server.adminToken };
    for (const name of ['shop', 'blog']) {
      const created = await cli(['apps', 'create', name], { env });
      assert.equal(created.code, 0, created.stderr);
    }
  });
  after(() => server.close());

  it('creates, lists, shows, attaches, detaches and destroys', async () => {
    const created = await cli(['addons', 'create', 'redis', 'cache', '--app', 'shop'], { env });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created redis \d+\.\d+ add-on cache\n/);
    assert.match(created.stdout, /attached to shop as REDIS_URL; no release yet/);

    const listed = await cli(['addons'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /cache\s+redis\s+\d+\.\d+\s+running\s+[\d.]+ MiB\s+shop \(REDIS_URL\)/,
    );

    const info = await cli(['addons', 'info', 'cache'], { env });
    assert.equal(info.code, 0, info.stderr);
    assert.doesNotMatch(info.stdout, /redis:\/\//, 'no URL without --reveal');
    const revealed = await cli(['addons', 'info', 'cache', '--reveal', '--json'], { env });
    assert.match((JSON.parse(revealed.stdout) as { url: string }).url, /^redis:\/\/default:/);

    const attached = await cli(['addons', 'attach', 'cache', 'blog', '--as', 'SESSIONS'], { env });
    assert.equal(attached.code, 0, attached.stderr);
    assert.match(attached.stdout, /^attached cache to blog as SESSIONS_URL/);

    const refused = await cli(['addons', 'destroy', 'cache', '--confirm', 'cache'], { env });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /ADDON_ATTACHED: add-on 'cache' is attached to 'shop', 'blog'; detach it first/,
    );

    for (const app of ['shop', 'blog']) {
      const detached = await cli(['addons', 'detach', 'cache', app], { env });
      assert.equal(detached.code, 0, detached.stderr);
      assert.match(detached.stdout, /its data is kept/);
    }
    const mistyped = await cli(['addons', 'destroy', 'cache', '--confirm', 'cash'], { env });
    assert.equal(mistyped.code, 1);
    assert.match(mistyped.stderr, /CONFIRMATION_REQUIRED/);
    assert.equal((await cli(['addons', 'info', 'cache'], { env })).code, 0, 'still there');

    const destroyed = await cli(['addons', 'destroy', 'cache', '--confirm', 'cache'], { env });
    assert.equal(destroyed.code, 0, destroyed.stderr);
    const gone = await cli(['addons', 'info', 'cache'], { env });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /ADDON_NOT_FOUND/);
  });

  it('refuses an unknown kind and --as without --app, before anything is made', async () => {
    const unknown = await cli(['addons', 'create', 'mysql'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ADDON_KIND_UNKNOWN: unknown add-on kind 'mysql'/);
    const alias = await cli(['addons', 'create', 'redis', '--as', 'X'], { env });
    assert.notEqual(alias.code, 0);
    assert.match(alias.stderr, /--as names the variable an app gets: give --app too/);
    const none = await cli(['addons'], { env });
    assert.match(none.stdout + none.stderr, /no add-ons/);
  });
});
