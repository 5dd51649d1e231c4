// The berth client against a real server: login (token, username + password on stdin), apps,
// tokens, keys, git:remote, open, and its errors and exit codes. Every command runs as a child
// process, as a user runs it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { cli, freshConfigHome } from '../support/cli.js';

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('berth client: accounts, apps, tokens', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startTestServer('sqlite');
    env = { BERTH_SERVER: server.url, BERTH_TOKEN: server.adminToken };
  });
  after(() => server.close());

  it('logs in with a token and saves it with mode 0600', async () => {
    const home = freshConfigHome();
    const result = await cli(['login', server.url, '--token', server.adminToken], {
      env: { XDG_CONFIG_HOME: home },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(server.adminToken));
    const file = path.join(home, 'berth', 'config.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      server: server.url,
      token: server.adminToken,
    });
    const list = await cli(['apps', 'list', '--json'], { env: { XDG_CONFIG_HOME: home } });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), []);
  });

  it('refuses a wrong token and saves nothing', async () => {
    const home = freshConfigHome();
    const result = await cli(['login', server.url, '--token', 'berth_wrong'], {
      env: { XDG_CONFIG_HOME: home },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: TOKEN_INVALID: /);
    assert.throws(() => statSync(path.join(home, 'berth', 'config.json')));
  });

  it('logs in with a username and a password on stdin, never echoing it', async () => {
    const password = 'pw-carol-correct-horse';
    const created = await server.request('POST', '/users', {
      token: server.adminToken,
      body: { username: 'carol', password },
    });
    assert.equal(created.status, 201);
    const home = freshConfigHome();
    const result = await cli(['login', server.url, '--username', 'carol', '--password-stdin'], {
      env: { XDG_CONFIG_HOME: home },
      input: `${password}\n`,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /logged in to .* as carol/);
    assert.doesNotMatch(result.stdout + result.stderr, /correct-horse/);
    const file = path.join(home, 'berth', 'config.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { token: string };
    assert.match(saved.token, /^berth_/);

    // carol's own apps: she sees hers, not the admin's.
    const create = await cli(['apps', 'create', 'carols'], { env: { XDG_CONFIG_HOME: home } });
    assert.equal(create.code, 0, create.stderr);
    const wrong = await cli(['login', server.url, '--username', 'carol', '--password-stdin'], {
      env: { XDG_CONFIG_HOME: freshConfigHome() },
      input: 'not it\n',
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: LOGIN_FAILED: /m);
    // 900 KB is no one's password: refused at once, as a usage error, nothing sent.
    const huge = await cli(['login', server.url, '--username', 'carol', '--password-stdin'], {
      env: { XDG_CONFIG_HOME: freshConfigHome() },
      input: 'x'.repeat(900 * 1024),
    });
    assert.equal(huge.code, 2);
    assert.match(huge.stderr, /at most 1024 bytes/);
  });

  it('asks for a password only on a terminal', async () => {
    const result = await cli(['login', server.url], {
      env: { XDG_CONFIG_HOME: freshConfigHome() },
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: no terminal .*--password-stdin/);
  });

  it('creates, lists, shows and destroys apps', async () => {
    const created = await cli(['apps', 'create', 'shop'], { env });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created app shop\n');

    const list = await cli(['apps', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    const apps = JSON.parse(list.stdout) as { name: string }[];
    assert.ok(apps.some((a) => a.name === 'shop'));
    const table = await cli(['apps', 'list'], { env });
    assert.match(table.stdout, /^NAME\s+CREATED\n/);
    assert.match(table.stdout, /^shop\s+\d{4}-/m);

    const info = await cli(['apps', 'info', 'shop', '--json'], { env });
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { name: string }).name, 'shop');
    const fields = await cli(['apps', 'info', 'shop'], { env });
    assert.match(fields.stdout, /^name:\s+shop$/m);

    const taken = await cli(['apps', 'create', 'shop'], { env });
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^error: APP_EXISTS: /);
    const badName = await cli(['apps', 'create', 'Bad_Name'], { env });
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /^error: INVALID_NAME: /);

    const unconfirmed = await cli(['apps', 'destroy', 'shop'], { env });
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /needs --confirm shop/);
    const mismatch = await cli(['apps', 'destroy', 'shop', '--confirm', 'shoe'], { env });
    assert.equal(mismatch.code, 2);
    const destroyed = await cli(['apps', 'destroy', 'shop', '--confirm', 'shop'], { env });
    assert.equal(destroyed.code, 0, destroyed.stderr);
    const gone = await cli(['apps', 'info', 'shop'], { env });
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr.trim().split('\n').length, 1);
    assert.match(gone.stderr, /^error: APP_NOT_FOUND: .*shop/);
  });

  it('sets LD_PRELOAD only with --allow-runtime-keys, and PORT never', async () => {
    assert.equal((await cli(['apps', 'create', 'keys1'], { env })).code, 0);
    const refused = await cli(['config', 'set', 'keys1', 'LD_PRELOAD=/tmp/x.so'], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: INVALID_INPUT: config key "LD_PRELOAD" is refused: /);
    assert.match(refused.stderr, /--allow-runtime-keys/);
    const allowed = await cli(
      ['config', 'set', 'keys1', '--allow-runtime-keys', 'LD_PRELOAD=/tmp/x.so'],
      { env },
    );
    assert.equal(allowed.code, 0, allowed.stderr);
    const port = await cli(['config', 'set', 'keys1', '--allow-runtime-keys', 'PORT=80'], { env });
    assert.equal(port.code, 1);
    assert.match(port.stderr, /"PORT" is refused: PORT and every BERTH_\* variable/);
    const got = await cli(['config', 'keys1', '--json'], { env });
    assert.deepEqual(JSON.parse(got.stdout), { LD_PRELOAD: '/tmp/x.so' });
  });

  it('creates, lists and revokes tokens; the value is shown once', async () => {
    const created = await cli(
      ['tokens', 'create', 'ci', '--scope', 'read', '--scope', 'write', '--json'],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as { id: string; token: string; scopes: string[] };
    assert.deepEqual([...token.scopes].sort(), ['read', 'write']);
    const plain = await cli(['tokens', 'create', 'plain'], { env });
    assert.match(plain.stdout, /^berth_\S+\n$/);

    const list = await cli(['tokens', 'list', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    const tokens = JSON.parse(list.stdout) as { id: string; name: string }[];
    assert.ok(tokens.some((t) => t.id === token.id && t.name === 'ci'));
    assert.doesNotMatch(list.stdout, new RegExp(token.token));
    const table = await cli(['tokens'], { env });
    assert.match(table.stdout, /^ID\s+NAME\s+SCOPES/);
    assert.doesNotMatch(table.stdout, /berth_/);

    const withIt = { BERTH_SERVER: server.url, BERTH_TOKEN: token.token };
    assert.equal((await cli(['apps', 'list', '--json'], { env: withIt })).code, 0);
    const revoked = await cli(['tokens', 'revoke', token.id], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await cli(['apps', 'list'], { env: withIt });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /^error: TOKEN_REVOKED: /);

    const badScope = await cli(['tokens', 'create', 'x', '--scope', 'root'], { env });
    assert.equal(badScope.code, 2);
    assert.match(badScope.stderr, /unknown scope 'root'/);
  });

  it('adds, lists and removes SSH keys, and never sends a private key', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-keys-'));
    const key = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', key]);
    const fingerprint = execFileSync('ssh-keygen', ['-lf', `${key}.pub`], {
      encoding: 'utf8',
    }).split(' ')[1];

    const added = await cli(['keys', 'add', `${key}.pub`, '--name', 'laptop'], { env });
    assert.equal(added.code, 0, added.stderr);
    assert.ok(added.stdout.includes(`'laptop' (ssh-ed25519 ${fingerprint})`), added.stdout);
    const again = await cli(['keys', 'add', `${key}.pub`], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: KEY_EXISTS: /);
    const secret = await cli(['keys', 'add', key], { env });
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /is a private key: give its \.pub file/);
    assert.doesNotMatch(secret.stderr, /PRIVATE/);

    const listed = await cli(['keys', 'list', '--json'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const keys = JSON.parse(listed.stdout) as { id: string; name: string; fingerprint: string }[];
    assert.deepEqual(
      keys.map((k) => [k.name, k.fingerprint]),
      [['laptop', fingerprint]],
    );
    const table = await cli(['keys'], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /laptop/);

    const removed = await cli(['keys', 'remove', keys[0]!.id], { env });
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await cli(['keys', 'remove', keys[0]!.id], { env });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^error: KEY_NOT_FOUND: /);
    assert.deepEqual(JSON.parse((await cli(['keys', 'list', '--json'], { env })).stdout), []);
  });

  it('adds a berth git remote with the app, which later commands use', async () => {
    assert.equal((await cli(['apps', 'create', 'remote1'], { env })).code, 0);
    const repo = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-repo-'));
    execFileSync('git', ['init', '-q', repo]);
    const added = await cli(['git:remote', 'remote1'], { env, cwd: repo });
    assert.equal(added.code, 0, added.stderr);
    const url = execFileSync('git', ['remote', 'get-url', 'berth'], { cwd: repo })
      .toString()
      .trim();
    assert.equal(url, `${server.url}/git/remote1.git`);
    // No app named: the remote's.
    const info = await cli(['apps', 'info', '--json'], { env, cwd: repo });
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { name: string }).name, 'remote1');
    const again = await cli(['git:remote', 'remote1'], { env, cwd: repo });
    assert.equal(again.code, 0, again.stderr);
    const unknown = await cli(['git:remote', 'nope'], { env, cwd: repo });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: APP_NOT_FOUND: /);
    const outside = await cli(['git:remote', 'remote1'], { env, cwd: os.tmpdir() });
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /^error: git: /);

    const open = await cli(['open', 'remote1'], { env });
    assert.equal(open.code, 0, open.stderr);
    assert.equal(open.stdout, 'http://remote1.localhost:7180/\n');
    assert.match(open.stderr, /does not expose its domain or router port/);
    const openSet = await cli(
      ['open', 'remote1', '--domain', 'apps.test', '--router-port', '8080'],
      { env },
    );
    assert.equal(openSet.stdout, 'http://remote1.apps.test:8080/\n');
    assert.equal(openSet.stderr, '');
  });

  it('fails clearly: unreachable server, no login, usage errors', async () => {
    const port = await closedPort();
    const unreachable = await cli(['apps', 'list'], {
      env: { BERTH_SERVER: `http://127.0.0.1:${port}`, BERTH_TOKEN: 'x' },
    });
    assert.equal(unreachable.code, 1);
    assert.equal(
      unreachable.stderr,
      `error: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)\n`,
    );
    const noLogin = await cli(['apps', 'list'], { env: { XDG_CONFIG_HOME: freshConfigHome() } });
    assert.equal(noLogin.code, 1);
    assert.match(noLogin.stderr, /^error: not logged in/);
    const badOption = await cli(['apps', 'list', '--bogus'], { env });
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /^error: unknown option '--bogus'\n$/);
    const missing = await cli(['apps', 'create'], { env });
    assert.equal(missing.code, 2);
    const noApp = await cli(['ps'], { env, cwd: os.tmpdir() });
    assert.equal(noApp.code, 2);
    assert.match(noApp.stderr, /^error: which app\?/);
  });

  it('says which rule a refused input breaks, and what to type instead', async () => {
    assert.equal((await cli(['apps', 'create', 'rules1'], { env })).code, 0);
    const scale = await cli(['scale', 'rules1', 'web=1000'], { env });
    assert.equal(scale.code, 2);
    assert.match(scale.stderr, /^error: .*web=1000.* from 0 to 100/);
    const key = await cli(['config', 'set', 'rules1', '1BAD=x'], { env });
    assert.equal(key.code, 2);
    assert.match(key.stderr, /^error: '1BAD' is not a config key: a key starts with a letter/);
    // In a checkout too, where the app would come from the berth remote.
    const keyNoApp = await cli(['config', 'set', '1BAD=x'], { env, cwd: os.tmpdir() });
    assert.match(keyNoApp.stderr, /^error: '1BAD' is not a config key/);
    const rollback = await cli(['rollback', 'rules1', 'v99'], { env });
    assert.equal(rollback.code, 1);
    assert.match(rollback.stderr, /^error: NOT_FOUND: app 'rules1' has no release v99\n$/);
    const apps = await cli(['apps', 'lst'], { env });
    assert.equal(apps.code, 2);
    assert.equal(apps.stderr, "error: unknown command 'apps lst' (did you mean list?)\n");
    const option = await cli(['apps', 'list', '--jsn'], { env });
    assert.equal(option.code, 2);
    assert.equal(option.stderr, "error: unknown option '--jsn' (did you mean --json?)\n");
    const stale = await cli(['apps', 'list'], {
      env: { BERTH_SERVER: server.url, BERTH_TOKEN: 'berth_stale' },
    });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^error: TOKEN_INVALID: .*BERTH_TOKEN is refused.*berth login/);
    // A saved login whose token was revoked since.
    const created = await cli(['tokens', 'create', 'soon-gone', '--scope', 'read', '--json'], {
      env,
    });
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
    const home = freshConfigHome();
    const saved = await cli(['login', server.url, '--token', token], {
      env: { XDG_CONFIG_HOME: home },
    });
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal((await cli(['tokens', 'revoke', id], { env })).code, 0);
    const revoked = await cli(['apps', 'list'], { env: { XDG_CONFIG_HOME: home } });
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /^error: TOKEN_REVOKED: .*; run 'berth login' to log in again\n$/);
    // berth login itself says only that the token is refused.
    const relogin = await cli(['login', server.url, '--token', token], {
      env: { XDG_CONFIG_HOME: home },
    });
    assert.equal(relogin.code, 1);
    assert.doesNotMatch(relogin.stderr, /run 'berth login'/);
  });

  it('shows an example in every command help', async () => {
    for (const command of [
      ['login'],
      ['apps'],
      ['apps', 'create'],
      ['apps', 'list'],
      ['apps', 'info'],
      ['apps', 'destroy'],
      ['deploy'],
      ['logs'],
      ['config'],
      ['config', 'set'],
      ['config', 'unset'],
      ['config', 'get'],
      ['scale'],
      ['ps'],
      ['releases'],
      ['rollback'],
      ['run'],
      ['tokens'],
      ['tokens', 'create'],
      ['tokens', 'list'],
      ['tokens', 'revoke'],
      ['git:remote'],
      ['git:credential'],
      ['open'],
      ['keys'],
      ['keys', 'add'],
      ['keys', 'list'],
      ['keys', 'remove'],
    ]) {
      const help = await cli([...command, '--help']);
      assert.equal(help.code, 0, `${command.join(' ')}: ${help.stderr}`);
      assert.match(help.stdout, /Examples?:\n {2}\$ berth /, command.join(' '));
    }
  });
});
