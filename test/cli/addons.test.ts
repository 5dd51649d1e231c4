// `berth addons` as a user runs it, against a real server with real Redis servers: create with
// an app, list, info with and without --reveal, attach under an alias, detach, and destroy,
// whose wrong confirmation and attached state are refused with a non-zero exit and nothing lost.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { createUserAndLogin, startTestServer, type TestServer } from '../support/api.js';
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

  it('backs up, lists, downloads and restores, and says so when it cannot', async () => {
    assert.equal((await cli(['addons', 'create', 'redis', 'sessions'], { env })).code, 0);
    const made = await cli(['addons', 'backup', 'sessions', '--json'], { env });
    assert.equal(made.code, 0, made.stderr);
    const backup = JSON.parse(made.stdout) as { name: string; sha256: string; sizeBytes: number };
    const listed = await cli(['addons', 'backups', 'sessions'], { env });
    assert.match(listed.stdout, new RegExp(`${backup.name}\\s+succeeded`));

    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-download-'));
    try {
      const file = path.join(dir, 'sessions.rdb');
      const got = await cli(['addons', 'download', 'sessions', backup.name, '-o', file], { env });
      assert.equal(got.code, 0, got.stderr);
      assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), backup.sha256);
      const missing = await cli(['addons', 'download', 'sessions', 'b-nope', '-o', file], { env });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /BACKUP_NOT_FOUND/);
      assert.equal(readFileSync(file).length, backup.sizeBytes, 'the good file is kept');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const scheduled = await cli(['addons', 'schedule', 'sessions', 'daily', '--retain', '3'], {
      env,
    });
    assert.equal(scheduled.code, 0, scheduled.stderr);
    assert.match(
      scheduled.stdout,
      /^sessions is backed up on daily \(UTC\), keeping 3; next at 20/,
    );
    assert.match(
      (await cli(['addons', 'info', 'sessions'], { env })).stdout,
      /daily \(UTC\), keeping 3/,
    );
    const bad = await cli(['addons', 'schedule', 'sessions', 'sometimes'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_INPUT: schedule 'sometimes' has 1 field/);
    assert.equal((await cli(['addons', 'schedule', 'sessions', 'off'], { env })).code, 0);

    const unconfirmed = await cli(['addons', 'restore', 'sessions', backup.name], { env });
    assert.equal(unconfirmed.code, 2, 'no terminal to ask on: a usage error');
    assert.match(unconfirmed.stderr, /needs --confirm sessions/);
    const restored = await cli(
      ['addons', 'restore', 'sessions', backup.name, '--confirm', 'sessions'],
      { env },
    );
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, new RegExp(`^restored ${backup.name} of sessions into sessions`));
    const copy = await cli(['addons', 'restore', 'sessions', backup.name, '--into', 'sessions-2'], {
      env,
    });
    assert.equal(copy.code, 0, copy.stderr);
    assert.match((await cli(['addons'], { env })).stdout, /sessions-2\s+redis/);
  });

  it('runs psql and redis-cli through a tunnel of the API, and only for who may', async () => {
    assert.equal((await cli(['addons', 'create', 'postgres', 'notes'], { env })).code, 0);
    assert.equal((await cli(['addons', 'create', 'redis', 'counter'], { env })).code, 0);
    const made = await cli(
      [
        'addons',
        'psql',
        'notes',
        '--',
        '-At',
        '-c',
        "CREATE TABLE n (t text); INSERT INTO n VALUES ('via tunnel'); SELECT t FROM n",
      ],
      { env },
    );
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /via tunnel/);
    const failing = await cli(['addons', 'psql', 'notes', '--', '-c', 'SELECT * FROM missing'], {
      env,
    });
    assert.notEqual(failing.code, 0, "psql's own exit code comes through");
    assert.match(failing.stderr, /relation "missing" does not exist/);

    const counted = await cli(['addons', 'redis-cli', 'counter', '--', 'INCRBY', 'hits', '41'], {
      env,
    });
    assert.equal(counted.code, 0, counted.stderr);
    assert.match(counted.stdout, /41/);
    const wrongKind = await cli(['addons', 'psql', 'counter'], { env });
    assert.equal(wrongKind.code, 2);
    assert.match(wrongKind.stderr, /counter is a redis add-on: use berth addons redis-cli/);

    // The tunnel itself: another user and no token are refused before any byte reaches it.
    const stranger = await createUserAndLogin(server, 'stranger');
    for (const [authorization, status] of [
      [`Bearer ${stranger}`, 403],
      [undefined, 401],
    ] as const) {
      const refused = await new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(
          `${server.url.replace(/^http/, 'ws')}/api/v1/addons/notes/tunnel`,
          {
            headers: authorization ? { authorization } : {},
          },
        );
        socket.once('unexpected-response', (_request, response) =>
          resolve(response.statusCode ?? 0),
        );
        socket.once('open', () => reject(new Error('the tunnel opened')));
        socket.once('error', () => undefined);
      });
      assert.equal(refused, status);
    }
  });

  it('refuses an unknown kind and --as without --app, before anything is made', async () => {
    const names = async () =>
      (JSON.parse((await cli(['addons', '--json'], { env })).stdout) as { name: string }[]).map(
        (a) => a.name,
      );
    const before = await names();
    const unknown = await cli(['addons', 'create', 'mysql'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ADDON_KIND_UNKNOWN: unknown add-on kind 'mysql'/);
    const alias = await cli(['addons', 'create', 'redis', '--as', 'X'], { env });
    assert.notEqual(alias.code, 0);
    assert.match(alias.stderr, /--as names the variable an app gets: give --app too/);
    assert.deepEqual(await names(), before, 'nothing was made');
  });
});
