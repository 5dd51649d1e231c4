// `berth git:remote` then `git push berth main` with the real git client against a real server
// (process runtime): no prompt (GIT_TERMINAL_PROMPT=0), git asks `berth git:credential` for
// the saved login, only for that server, and a global `store` helper never gets the token.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { cli, freshConfigHome } from '../support/cli.js';
import { viaRouter } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';

interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('berth git:credential: git push berth main signs in with the berth login', () => {
  let server: TestServer;
  let configHome: string;
  let home: string;

  /** The real git as a user runs it: their HOME and berth login, and never a prompt. */
  function git(args: string[], cwd: string): Promise<GitResult> {
    return new Promise((resolve) => {
      execFile(
        'git',
        ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args],
        {
          cwd,
          env: {
            PATH: process.env['PATH'] ?? '/usr/bin:/bin',
            HOME: home,
            XDG_CONFIG_HOME: configHome,
            GIT_TERMINAL_PROMPT: '0',
            GIT_CONFIG_NOSYSTEM: '1',
          },
          timeout: 180_000,
        },
        (error, stdout, stderr) =>
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stdout,
            stderr,
          }),
      );
    });
  }

  before(async () => {
    server = await startTestServer('sqlite');
    configHome = freshConfigHome();
    home = await mkdtemp(path.join(os.tmpdir(), 'berth-cred-home-'));
    // A user whose git stores every credential it sees in ~/.git-credentials.
    await writeFile(path.join(home, '.gitconfig'), '[credential]\n\thelper = store\n');
    const login = await cli(['login', server.url, '--token', server.adminToken], {
      env: { XDG_CONFIG_HOME: configHome },
    });
    assert.equal(login.code, 0, login.stderr);
    const created = await cli(['apps', 'create', 'cred1'], {
      env: { XDG_CONFIG_HOME: configHome },
    });
    assert.equal(created.code, 0, created.stderr);
  });
  after(() => server.close());

  it('pushes to deploy after git:remote, with no prompt and the token kept out of git', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cred-work-'));
    assert.equal((await git(['init', '--quiet', '--initial-branch=main', dir], dir)).code, 0);
    for (const [name, text] of Object.entries(nodeHelloApp)) {
      await writeFile(path.join(dir, name), text);
    }
    assert.equal((await git(['add', '-A'], dir)).code, 0);
    assert.equal((await git(['commit', '--quiet', '-m', 'hello'], dir)).code, 0);

    const remote = await cli(['git:remote', 'cred1'], {
      env: { XDG_CONFIG_HOME: configHome },
      cwd: dir,
    });
    assert.equal(remote.code, 0, remote.stderr);
    const url = `${server.url}/git/cred1.git`;
    const helpers = await git(['config', '--get-all', `credential.${url}.helper`], dir);
    assert.match(helpers.stdout, /^\n.*git:credential\n$/);
    // Set for that URL only: git's generic helper list is the user's own.
    const generic = await git(['config', '--local', '--get-all', 'credential.helper'], dir);
    assert.equal(generic.stdout, '');

    const pushed = await git(['push', 'berth', 'main'], dir);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.doesNotMatch(pushed.stderr, /Username|terminal prompts disabled/);
    assert.equal(
      (await viaRouter(server.server.routerUrl, 'cred1', '/')).text,
      'hello from cred1 v1',
    );
    // store was not asked: the token is berth's to keep, not ~/.git-credentials'.
    assert.equal(existsSync(path.join(home, '.git-credentials')), false);
    // Running git:remote again changes nothing.
    assert.equal(
      (await cli(['git:remote', 'cred1'], { env: { XDG_CONFIG_HOME: configHome }, cwd: dir })).code,
      0,
    );
    const again = await git(['config', '--get-all', `credential.${url}.helper`], dir);
    assert.equal(again.stdout, helpers.stdout);
  });

  it('answers git only for the berth server, and stores or erases nothing', async () => {
    const { host, protocol } = new URL(server.url);
    const ask = (action: string, input: string) =>
      cli(['git:credential', action], { env: { XDG_CONFIG_HOME: configHome }, input });
    const ours = await ask('get', `protocol=${protocol.slice(0, -1)}\nhost=${host}\n\n`);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, `username=berth\npassword=${server.adminToken}\n`);
    const withPath = await ask('get', `protocol=http\nhost=${host}\npath=git/cred1.git\n\n`);
    assert.equal(withPath.stdout, `username=berth\npassword=${server.adminToken}\n`);
    for (const other of [
      `protocol=http\nhost=github.com\n\n`,
      `protocol=https\nhost=${host}\n\n`,
      `protocol=http\nhost=${host}\npath=elsewhere/repo.git\n\n`,
      `protocol=http\n\n`,
    ]) {
      const answer = await ask('get', other);
      assert.equal(answer.code, 0, answer.stderr);
      assert.equal(answer.stdout, '', other);
    }
    for (const action of ['store', 'erase']) {
      const answer = await ask(
        action,
        `protocol=http\nhost=${host}\nusername=berth\npassword=x\n\n`,
      );
      assert.deepEqual([answer.code, answer.stdout], [0, '']);
    }
  });
});
