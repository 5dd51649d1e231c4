// Push to deploy over smart HTTP with the real git client against an in-process server on the
// process runtime: a push to main deploys and prints progress, a failed build keeps the branch,
// tokens and scopes decide who may clone and push, other branches are only stored, a deploy
// branch cannot be deleted, and a push while a deploy runs is refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createUserAndLogin,
  startTestServer,
  tokenWithScopes,
  type TestServer,
} from '../support/api.js';
import { nodeApp, type BundleFiles } from '../support/bundles.js';
import { eventually, viaRouter, waitForTask } from '../support/platform.js';
import { failingBuildApp, nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface DeploymentRecord {
  status: string;
  release: number | null;
  source: { kind: string; ref: string | null; sha: string | null };
}

let home: string;
const scratch: string[] = [];

/** Runs the real git client: no prompt, a temp HOME, no credential helper. */
function git(args: string[], cwd?: string): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      [
        '-c',
        'credential.helper=',
        '-c',
        'user.name=Test',
        '-c',
        'user.email=test@example.com',
        ...args,
      ],
      {
        cwd,
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          HOME: home,
          GIT_TERMINAL_PROMPT: '0',
          GIT_CONFIG_NOSYSTEM: '1',
        },
        timeout: 120_000,
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

async function ok(args: string[], cwd?: string): Promise<string> {
  const result = await git(args, cwd);
  assert.equal(result.code, 0, `git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** A fresh work tree on `main`. */
async function workTree(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-git-work-'));
  scratch.push(dir);
  await ok(['init', '--quiet', '--initial-branch=main', dir]);
  return dir;
}

/** Replaces the tree's files with `files` and commits; returns the new sha. */
async function commit(dir: string, files: BundleFiles, message: string): Promise<string> {
  await ok(['rm', '-r', '--quiet', '--ignore-unmatch', '.'], dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  await ok(['add', '-A'], dir);
  await ok(['commit', '--quiet', '-m', message], dir);
  return (await ok(['rev-parse', 'HEAD'], dir)).trim();
}

function remote(api: TestServer, token: string, app: string): string {
  const url = new URL(`/git/${app}.git`, api.url);
  url.username = 'git';
  url.password = token;
  return url.toString();
}

/** The sha of `ref` on the remote, or undefined. */
async function remoteSha(url: string, ref: string): Promise<string | undefined> {
  const out = await ok(['ls-remote', url, ref]);
  return out.trim().split(/\s+/)[0] || undefined;
}

describe('git push over smart HTTP', () => {
  let api: TestServer;
  let alice: string;
  let counter = 0;
  const newApp = async (token = alice) => {
    const name = `gitapp${++counter}`;
    const created = await api.request('POST', '/apps', { token, body: { name } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return name;
  };

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'berth-git-home-'));
    api = await startTestServer('sqlite');
    alice = await createUserAndLogin(api, 'alice');
  });
  after(async () => {
    await api?.close();
    for (const dir of [home, ...scratch]) await rm(dir, { recursive: true, force: true });
  });

  it('deploys a push to main, prints remote: progress, and the app answers', async () => {
    const app = await newApp();
    const dir = await workTree();
    const sha = await commit(dir, withVersion(nodeHelloApp, 'one'), 'first');
    const url = remote(api, alice, app);
    const started = Date.now();
    const pushed = await git(['push', url, 'main'], dir);
    const ms = Date.now() - started;
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: berth: deployment \S+ queued/);
    assert.match(pushed.stderr, /remote: build: started/);
    assert.match(pushed.stderr, /remote: rollout: done/);
    assert.match(pushed.stderr, /remote: berth: deployed gitapp\d+ release v1/);
    process.stdout.write(`# push-to-deploy of ${app} took ${ms} ms; the pusher saw:\n`);
    for (const line of pushed.stderr.split('\n')) process.stdout.write(`#   ${line}\n`);
    assert.equal(await remoteSha(url, 'refs/heads/main'), sha);
    const routed = await viaRouter(api.server.routerUrl, app, '/version');
    assert.equal(routed.text, 'one');
    const record = (await api.request('GET', `/deployments/${app}`, { token: alice }))
      .body as DeploymentRecord;
    assert.equal(record.status, 'succeeded');
    assert.deepEqual(record.source, { kind: 'git', ref: 'refs/heads/main', sha });

    // A failing build is rejected: the branch stays at the deployed sha, v1 keeps serving.
    await commit(dir, failingBuildApp, 'broken build');
    const failed = await git(['push', url, 'main'], dir);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /remote: .*build failed on purpose/);
    assert.match(failed.stderr, /remote: berth: deploy failed: /);
    assert.match(failed.stderr, /\[remote rejected\] main -> main \(pre-receive hook declined\)/);
    assert.equal(await remoteSha(url, 'refs/heads/main'), sha);
    assert.equal((await viaRouter(api.server.routerUrl, app, '/version')).text, 'one');

    // Deleting the deploy branch is refused.
    const deleted = await git(['push', url, ':main'], dir);
    assert.notEqual(deleted.code, 0);
    assert.match(deleted.stderr, /remote: berth: deleting the deploy branch 'main' is refused/);
    assert.equal(await remoteSha(url, 'refs/heads/main'), sha);
  });

  it('stores a push to another branch without deploying it', async () => {
    const app = await newApp();
    const dir = await workTree();
    // 4 MiB that does not compress: more than the API's JSON body limit, streamed through.
    const noise = randomBytes(4 * 1024 * 1024).toString('base64');
    const sha = await commit(dir, { ...nodeHelloApp, 'noise.txt': noise }, 'feature work');
    const url = remote(api, alice, app);
    const pushed = await git(['push', url, 'main:feature'], dir);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: berth: refs\/heads\/feature: not deployed/);
    assert.equal(await remoteSha(url, 'refs/heads/feature'), sha);
    const history = await api.request('GET', `/apps/${app}/deployments`, { token: alice });
    assert.deepEqual(history.body, []);
  });

  it('refuses a push whose source fails the bundle checks, before queuing anything', async () => {
    const app = await newApp();
    const dir = await workTree();
    await commit(dir, { ...nodeHelloApp, 'berth.json': '{"name": ' }, 'bad berth.json');
    const url = remote(api, alice, app);
    const pushed = await git(['push', url, 'main'], dir);
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: .*berth\.json/);
    assert.equal(await remoteSha(url, 'refs/heads/main'), undefined);
    const history = await api.request('GET', `/apps/${app}/deployments`, { token: alice });
    assert.deepEqual(history.body, []);
  });

  it('applies berth.json sample values with git push -o autoconfigure', async () => {
    const app = await newApp();
    const dir = await workTree();
    await commit(dir, nodeApp, 'first');
    const url = remote(api, alice, app);
    const unknown = await git(['push', '-o', 'yolo', url, 'main'], dir);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /remote: berth: unknown push option 'yolo'/);
    const pushed = await git(['push', '-o', 'autoconfigure', url, 'main'], dir);
    assert.equal(pushed.code, 0, pushed.stderr);
    const config = await api.request('GET', `/apps/${app}/config`, { token: alice });
    assert.deepEqual(config.body, { GREETING: 'hello' });
  });

  it('refuses -o autoconfigure of a berth.json sample for LD_PRELOAD before queuing', async () => {
    const app = await newApp();
    const dir = await workTree();
    const berthJson = JSON.stringify({
      env: { GREETING: { value: 'hi' }, LD_PRELOAD: { value: '/tmp/evil.so' } },
    });
    await commit(dir, { ...nodeApp, 'berth.json': berthJson }, 'preload');
    const url = remote(api, alice, app);
    const pushed = await git(['push', '-o', 'autoconfigure', url, 'main'], dir);
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: berth\.json: env variable 'LD_PRELOAD' is refused: /);
    assert.match(pushed.stderr, /\[remote rejected\] main -> main/);
    assert.equal(await remoteSha(url, 'refs/heads/main'), undefined);
    const history = await api.request('GET', `/apps/${app}/deployments`, { token: alice });
    assert.deepEqual(history.body, []);
    const config = await api.request('GET', `/apps/${app}/config`, { token: alice });
    assert.deepEqual(config.body, {});
  });

  it('deploys the branch the app chose with PUT /apps/{app}/git', async () => {
    const app = await newApp();
    const settings = await api.request('GET', `/apps/${app}/git`, { token: alice });
    assert.deepEqual(settings.body, { path: `/git/${app}.git`, deployBranch: 'main' });
    for (const bad of ['-x', 'a..b', 'x.lock', 'a b', '', 'HEAD', '@{-1}', 'a/.b', 'a//b']) {
      const refused = await api.request('PUT', `/apps/${app}/git`, {
        token: alice,
        body: { deployBranch: bad },
      });
      assert.equal(refused.status, 400, bad);
    }
    const chosen = await api.request('PUT', `/apps/${app}/git`, {
      token: alice,
      body: { deployBranch: 'release/prod' },
    });
    assert.equal(chosen.status, 200, JSON.stringify(chosen.body));
    assert.deepEqual(chosen.body, { path: `/git/${app}.git`, deployBranch: 'release/prod' });
    const dir = await workTree();
    const sha = await commit(dir, withVersion(nodeHelloApp, 'prod'), 'first');
    const url = remote(api, alice, app);
    const main = await git(['push', url, 'main'], dir);
    assert.equal(main.code, 0, main.stderr);
    assert.match(main.stderr, /refs\/heads\/main: not deployed/);
    assert.equal((await api.request('GET', `/deployments/${app}`, { token: alice })).status, 404);
    const prod = await git(['push', url, 'main:release/prod'], dir);
    assert.equal(prod.code, 0, prod.stderr);
    assert.match(prod.stderr, /remote: berth: deployed gitapp\d+ release v1/);
    assert.equal((await viaRouter(api.server.routerUrl, app, '/version')).text, 'prod');
    const record = (await api.request('GET', `/deployments/${app}`, { token: alice }))
      .body as DeploymentRecord;
    assert.deepEqual(record.source, { kind: 'git', ref: 'refs/heads/release/prod', sha });
    // HEAD follows the deploy branch: a clone checks it out.
    const clone = path.join(await mkdtemp(path.join(os.tmpdir(), 'berth-git-clone-')), 'c');
    scratch.push(path.dirname(clone));
    await ok(['clone', '--quiet', url, clone]);
    assert.equal((await ok(['rev-parse', '--abbrev-ref', 'HEAD'], clone)).trim(), 'release/prod');
  });

  it('refuses to delete the deploy branch, even one stored as HEAD before the rule', async () => {
    const app = await newApp();
    const url = remote(api, alice, app);
    const dir = await workTree();
    const sha = await commit(dir, nodeHelloApp, 'first');
    const setBranch = (deployBranch: string) =>
      api.request('PUT', `/apps/${app}/git`, { token: alice, body: { deployBranch } });
    // main, stored without a deploy while another branch deploys.
    assert.equal((await setBranch('parked')).status, 200);
    assert.equal((await git(['push', url, 'main'], dir)).code, 0);
    assert.equal((await setBranch('main')).status, 200);
    for (const args of [
      ['push', url, ':main'],
      ['push', '--delete', url, 'main'],
      ['push', url, ':refs/heads/main'],
    ]) {
      const deleted = await git(args, dir);
      assert.notEqual(deleted.code, 0, args.join(' '));
      assert.match(deleted.stderr, /remote: berth: deleting the deploy branch 'main' is refused/);
      assert.match(deleted.stderr, /\[remote rejected\] main \(pre-receive hook declined\)/);
      assert.equal(await remoteSha(url, 'refs/heads/main'), sha);
    }
    // A repository whose config says HEAD (accepted before) deploys main, so main stays.
    const repository = path.join(api.location.dataDir, 'git', `${app}.git`);
    await ok(['--git-dir', repository, 'config', 'berth.deployBranch', 'HEAD']);
    assert.deepEqual((await api.request('GET', `/apps/${app}/git`, { token: alice })).body, {
      path: `/git/${app}.git`,
      deployBranch: 'main',
    });
    const deleted = await git(['push', url, ':main'], dir);
    assert.notEqual(deleted.code, 0);
    assert.equal(await remoteSha(url, 'refs/heads/main'), sha);
    // Other branches may still be deleted.
    assert.equal((await git(['push', url, 'main:feature'], dir)).code, 0);
    assert.equal((await git(['push', url, ':feature'], dir)).code, 0);
    assert.equal(await remoteSha(url, 'refs/heads/feature'), undefined);
  });

  it("gives git and its hooks a minimal environment, never the controller's", async () => {
    const app = await newApp();
    const dir = await workTree();
    await commit(dir, nodeHelloApp, 'first');
    const url = remote(api, alice, app);
    await ok(['push', url, 'main:side'], dir);
    // The in-process controller's environment: a canary that must not reach git.
    process.env['BERTH_TEST_CANARY'] = 'canary-value';
    try {
      const hook = path.join(api.location.dataDir, 'git', `${app}.git`, 'hooks', 'pre-receive');
      await writeFile(hook, '#!/bin/sh\nenv >&2\nexit 1\n', { mode: 0o755 });
      await commit(dir, withVersion(nodeHelloApp, 'two'), 'second');
      const pushed = await git(['push', url, 'main'], dir);
      assert.notEqual(pushed.code, 0);
      const env = new Map(
        [...pushed.stderr.matchAll(/^remote: ([A-Z_][A-Z0-9_]*)=(.*?)\s*$/gm)].map((m) => [
          m[1],
          m[2],
        ]),
      );
      assert.equal(env.get('REMOTE_USER'), 'alice');
      assert.ok(env.get('BERTH_GIT_PUSH_SECRET'));
      assert.equal(env.has('BERTH_TEST_CANARY'), false);
      assert.equal(env.has('BERTH_MASTER_KEY'), false);
      assert.ok(!api.logText().includes(env.get('BERTH_GIT_PUSH_SECRET') ?? '?'));
      assert.ok(!api.logText().includes(alice));
    } finally {
      delete process.env['BERTH_TEST_CANARY'];
    }
  });

  it('refuses a bad token with 401 and deploys nothing', async () => {
    const app = await newApp();
    const dir = await workTree();
    await commit(dir, nodeHelloApp, 'first');
    for (const token of ['berth_not-a-real-token', '']) {
      const url = new URL(`/git/${app}.git`, api.url);
      if (token) {
        url.username = 'git';
        url.password = token;
      }
      const pushed = await git(['push', url.toString(), 'main'], dir);
      assert.notEqual(pushed.code, 0);
      assert.match(pushed.stderr, /Authentication failed|could not read Username|401/);
    }
    const raw = await fetch(new URL(`/git/${app}.git/info/refs?service=git-receive-pack`, api.url));
    assert.equal(raw.status, 401);
    assert.equal(raw.headers.get('www-authenticate'), 'Basic realm="berth"');
    assert.equal((await api.request('GET', `/deployments/${app}`, { token: alice })).status, 404);
  });

  it('lets a read token clone but not push (403); unknown apps are 404, others’ apps 403', async () => {
    const app = await newApp();
    const dir = await workTree();
    const sha = await commit(dir, nodeHelloApp, 'first');
    // A branch other than main, so the clone needs no deploy.
    assert.equal((await git(['push', remote(api, alice, app), 'main:stash'], dir)).code, 0);
    const reader = await tokenWithScopes(api, alice, ['read']);
    const clone = path.join(await mkdtemp(path.join(os.tmpdir(), 'berth-git-clone-')), 'c');
    scratch.push(path.dirname(clone));
    await ok(['clone', '--quiet', '--branch', 'stash', remote(api, reader, app), clone]);
    assert.equal((await ok(['rev-parse', 'HEAD'], clone)).trim(), sha);
    assert.match(await readFile(path.join(clone, 'server.js'), 'utf8'), /createServer/);
    const pushed = await git(['push', remote(api, reader, app), 'HEAD:main'], clone);
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /403/);

    const missing = await git(['ls-remote', remote(api, alice, 'no-such-app')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not found|404/);
    const bob = await createUserAndLogin(api, 'bob');
    const foreign = await git(['ls-remote', remote(api, bob, app)]);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, /403/);
  });
});

describe('git push while a deploy runs', () => {
  let api: TestServer;

  before(async () => {
    home ??= await mkdtemp(path.join(os.tmpdir(), 'berth-git-home-'));
    api = await startTestServer('sqlite', { env: { BERTH_TEST_DEPLOY_STEP_DELAY_MS: '1500' } });
  });
  after(async () => {
    await api?.close();
  });

  it('refuses the second push with the 409 rule’s message', async () => {
    const token = api.adminToken;
    const name = 'busyapp';
    assert.equal((await api.request('POST', '/apps', { token, body: { name } })).status, 201);
    const url = remote(api, token, name);
    const first = await workTree();
    const firstSha = await commit(first, withVersion(nodeHelloApp, 'first'), 'first');
    const firstPush = git(['push', url, 'main'], first);
    await eventually('the first push queued a task', async () => {
      const latest = await api.request('GET', `/deployments/${name}`, { token });
      return latest.status === 204;
    });
    const second = await workTree();
    await commit(second, withVersion(nodeHelloApp, 'second'), 'second');
    const refused = await git(['push', '--force', url, 'main'], second);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /remote: app 'busyapp' has a deployment task queued or running/);
    const done = await firstPush;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(await remoteSha(url, 'refs/heads/main'), firstSha);
    const record = await waitForTask(api, token, name);
    assert.equal(record.status, 'succeeded');
    assert.equal((await viaRouter(api.server.routerUrl, name, '/version')).text, 'first');
  });

  it('rejects a push whose controller stops while it waits, and says where to look', async () => {
    const token = api.adminToken;
    const name = 'stopping';
    assert.equal((await api.request('POST', '/apps', { token, body: { name } })).status, 201);
    const dir = await workTree();
    await commit(dir, nodeHelloApp, 'first');
    const push = git(['push', remote(api, token, name), 'main'], dir);
    await eventually('the push queued a task', async () => {
      const latest = await api.request('GET', `/deployments/${name}`, { token });
      return latest.status === 204;
    });
    const started = Date.now();
    await api.server.close();
    const stoppedMs = Date.now() - started;
    const pushed = await push;
    assert.notEqual(pushed.code, 0);
    assert.match(
      pushed.stderr,
      /remote: berth: the controller is stopping; the deployment goes on/,
    );
    assert.match(pushed.stderr, /pre-receive hook declined/);
    // Closing answers the waiting push at once rather than after the deploy.
    assert.ok(stoppedMs < 5_000, `closing took ${stoppedMs} ms`);
  });
});
