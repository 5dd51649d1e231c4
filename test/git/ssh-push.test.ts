// Git over SSH with the real OpenSSH client against an in-process server on the process
// runtime: a push of a key's user deploys (with remote: progress) and clones; an unknown key,
// a key of a user without access to the app, and anything but git's two commands are refused.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseGitCommand } from '../../src/git/index.js';
import { createUserAndLogin, startTestServer, type TestServer } from '../support/api.js';
import type { BundleFiles } from '../support/bundles.js';
import { viaRouter } from '../support/platform.js';
import { nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let home: string;
let port: number;

/** A fresh key pair made by ssh-keygen; returns the private key's path. */
function keygen(name: string): string {
  const file = path.join(home, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return file;
}

function sshOptions(key: string): string[] {
  return [
    '-i',
    key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    '-p',
    String(port),
  ];
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        stdout,
        stderr,
      }),
    );
  });
}

/** The real git client over ssh with `key`: no prompt, a temp HOME. */
function git(key: string, args: string[], cwd?: string): Promise<Result> {
  return run(
    'git',
    ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args],
    {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      // Argument words for git to split; the paths are ours (a temp dir without spaces).
      GIT_SSH_COMMAND: ['ssh', ...sshOptions(key)].join(' '),
    },
    cwd,
  );
}

/** The plain ssh client running `command` on the server. */
function ssh(key: string, command: string[]): Promise<Result> {
  return run('ssh', [...sshOptions(key), 'git@127.0.0.1', ...command], {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
  });
}

async function ok(key: string, args: string[], cwd?: string): Promise<string> {
  const result = await git(key, args, cwd);
  assert.equal(result.code, 0, `git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function workTree(key: string, files: BundleFiles): Promise<string> {
  const dir = await mkdtemp(path.join(home, 'work-'));
  await ok(key, ['init', '--quiet', '--initial-branch=main', dir]);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  await ok(key, ['add', '-A'], dir);
  await ok(key, ['commit', '--quiet', '-m', 'first'], dir);
  return dir;
}

describe('git over SSH', () => {
  let api: TestServer;
  let alice: string;
  let bob: string;
  let aliceKey: string;
  let bobKey: string;
  let strangerKey: string;

  const addKey = async (token: string, key: string) => {
    const added = await api.request('POST', '/keys', {
      token,
      body: { name: path.basename(key), publicKey: await readFile(`${key}.pub`, 'utf8') },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  };
  const newApp = async (name: string) => {
    const created = await api.request('POST', '/apps', { token: alice, body: { name } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  };

  const sshUrl = (): string => api.server.sshUrl ?? assert.fail('the test server serves SSH');

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'berth-ssh-'));
    api = await startTestServer('sqlite');
    port = Number(new URL(sshUrl()).port);
    alice = await createUserAndLogin(api, 'alice');
    bob = await createUserAndLogin(api, 'bob');
    aliceKey = keygen('alice');
    bobKey = keygen('bob');
    strangerKey = keygen('stranger');
    await addKey(alice, aliceKey);
    await addKey(bob, bobKey);
  });
  after(async () => {
    await api?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('keeps one host key, mode 0600, in the data dir', async () => {
    assert.match(sshUrl(), /^ssh:\/\/git@127\.0\.0\.1:\d+$/);
    const info = await stat(path.join(api.location.dataDir, 'ssh_host_ed25519_key'));
    assert.equal(info.mode & 0o777, 0o600);
  });

  it('deploys a push over SSH with remote: progress, and clones', async () => {
    await newApp('sshapp1');
    const dir = await workTree(aliceKey, withVersion(nodeHelloApp, 'ssh one'));
    const url = `${sshUrl()}/sshapp1.git`;
    const pushed = await git(aliceKey, ['push', url, 'main'], dir);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: berth: deployment \S+ queued/);
    assert.match(pushed.stderr, /remote: berth: deployed sshapp1 release v1/);
    assert.equal((await viaRouter(api.server.routerUrl, 'sshapp1', '/version')).text, 'ssh one');
    const record = await api.request('GET', '/deployments/sshapp1', { token: alice });
    assert.equal((record.body as { status: string }).status, 'succeeded');

    // Clone, by the scp-like form too (`git@host:app` is `git-upload-pack 'sshapp1'`).
    const clone = path.join(home, 'clone');
    await ok(aliceKey, ['clone', '--quiet', url, clone]);
    assert.equal(
      await readFile(path.join(clone, 'package.json'), 'utf8'),
      nodeHelloApp['package.json'],
    );
    const listed = await git(aliceKey, ['ls-remote', `${sshUrl()}/sshapp1`, 'refs/heads/main']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^[0-9a-f]{40}\trefs\/heads\/main$/m);
  });

  it('refuses an unknown key, and a key whose user has no access to the app', async () => {
    await newApp('sshapp2');
    const dir = await workTree(aliceKey, nodeHelloApp);
    const url = `${sshUrl()}/sshapp2.git`;
    const stranger = await git(strangerKey, ['push', url, 'main'], dir);
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /Permission denied \(publickey\)/);

    const other = await git(bobKey, ['push', url, 'main'], dir);
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /berth: you have no access to app 'sshapp2'/);
    const fetch = await git(bobKey, ['ls-remote', url]);
    assert.notEqual(fetch.code, 0);
    assert.match(fetch.stderr, /berth: you have no access to app 'sshapp2'/);
    const missing = await git(aliceKey, ['ls-remote', `${sshUrl()}/nosuchapp.git`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /berth: .*nosuchapp/);
    const history = await api.request('GET', '/apps/sshapp2/deployments', { token: alice });
    assert.deepEqual(history.body, []);
  });

  it('refuses a shell, other commands and odd repository paths', async () => {
    for (const command of [
      ['ls'],
      ['git-receive-pack', "'../sshapp1.git'"],
      ['git-upload-pack', "'sshapp1.git'; ls"],
      ['git-upload-pack', 'sshapp1.git'],
    ]) {
      const result = await ssh(aliceKey, command);
      assert.equal(result.code, 1, command.join(' '));
      assert.match(result.stderr, /berth: only git push and fetch are served here/);
      assert.equal(result.stdout, '');
    }
    const shell = await ssh(aliceKey, ['-T']);
    assert.equal(shell.code, 1);
    assert.match(shell.stderr, /berth: only git push and fetch are served here/);
  });

  it('reads git commands strictly', () => {
    assert.deepEqual(parseGitCommand("git-receive-pack '/web-1.git'"), {
      service: 'git-receive-pack',
      app: 'web-1',
    });
    assert.deepEqual(parseGitCommand("git-upload-pack 'web'"), {
      service: 'git-upload-pack',
      app: 'web',
    });
    for (const bad of [
      "git-upload-pack '/a/b.git'",
      "git-upload-pack '~/web.git'",
      "git upload-pack 'web.git'",
      "git-upload-pack 'Web.git'",
      "git-upload-pack 'web.git' ",
      "git-upload-pack 'web.git'\nls",
      "git-upload-archive 'web.git'",
    ])
      assert.equal(parseGitCommand(bad), undefined, bad);
  });
});
