// `berth domains` and `berth maintenance` as a user runs them, against a real server: add (an
// exact host and a wildcard), list, remove; on with a message, status, off; refusals exit 1
// with one line on stderr.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { cli } from '../support/cli.js';

describe('berth domains and berth maintenance', () => {
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

  it('adds, lists and removes domains', async () => {
    const added = await cli(['domains', 'add', 'shop', 'WWW.Shop.Example'], { env });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^shop answers at www\.shop\.example once its DNS points/);
    const wild = await cli(['domains', 'add', 'shop', '*.bücher.example'], { env });
    assert.equal(wild.code, 0, wild.stderr);

    const listed = await cli(['domains', 'shop'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /\*\.xn--bcher-kva\.example\s+wildcard/);
    assert.match(listed.stdout, /www\.shop\.example\s+exact/);
    const json = await cli(['domains', 'list', 'shop', '--json'], { env });
    assert.deepEqual(
      (JSON.parse(json.stdout) as { host: string }[]).map((d) => d.host),
      ['*.xn--bcher-kva.example', 'www.shop.example'],
    );

    const taken = await cli(['domains', 'add', 'blog', 'www.shop.example'], { env });
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /DOMAIN_TAKEN/);
    assert.equal(taken.stderr.trim().split('\n').length, 1, taken.stderr);
    const bad = await cli(['domains', 'add', 'blog', '10.0.0.1'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /DOMAIN_INVALID.*IP address/);
    const usage = await cli(['domains', 'add', 'blog', 'a.example', 'b.example'], { env });
    assert.equal(usage.code, 2, usage.stderr);

    const removed = await cli(['domains', 'remove', 'shop', 'www.shop.example'], { env });
    assert.equal(removed.code, 0, removed.stderr);
    const missing = await cli(['domains', 'remove', 'shop', 'www.shop.example'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /DOMAIN_NOT_FOUND/);
    // A wildcard and an IDN, named as the user typed them, in the URL path.
    const wildGone = await cli(['domains', 'remove', 'shop', '*.Bücher.example'], { env });
    assert.equal(wildGone.code, 0, wildGone.stderr);
    const none = await cli(['domains', 'shop', '--json'], { env });
    assert.deepEqual(JSON.parse(none.stdout), []);
    const empty = await cli(['domains', 'blog'], { env });
    assert.match(empty.stdout + empty.stderr, /blog has no custom domains/);
  });

  it('turns maintenance on with a message, shows it, and off', async () => {
    const on = await cli(['maintenance', 'on', 'shop', '--message', 'Back at 14:00'], { env });
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /shop is in maintenance/);
    const status = await cli(['maintenance', 'shop'], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Maintenance:\s+on/);
    assert.match(status.stdout, /Back at 14:00/);
    const off = await cli(['maintenance', 'off', 'shop'], { env });
    assert.equal(off.code, 0, off.stderr);
    const json = await cli(['maintenance', 'status', 'shop', '--json'], { env });
    assert.equal((JSON.parse(json.stdout) as { enabled: boolean }).enabled, false);
    const unknown = await cli(['maintenance', 'on', 'nosuch'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /APP_NOT_FOUND/);
  });
});
