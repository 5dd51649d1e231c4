// The berth client deploying and running apps on a real server (process runtime): deploy of a
// directory honouring .gitignore, a failing build, logs (and -f over the WebSocket), config,
// scale, ps, releases, rollback and run, each through `node bin/berth.js`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import type { BundleFiles } from '../support/bundles.js';
import { cli, startCli } from '../support/cli.js';
import { eventually, viaRouter } from '../support/platform.js';
import { failingBuildApp, failingHealthApp, nodeHelloApp } from '../support/sample-apps.js';

function appDir(files: BundleFiles): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-app-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

describe('berth client: deploy and run apps', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startTestServer('sqlite');
    env = { BERTH_SERVER: server.url, BERTH_TOKEN: server.adminToken };
    const created = await cli(['apps', 'create', 'web1'], { env });
    assert.equal(created.code, 0, created.stderr);
  });
  after(() => server.close());

  it('deploys a directory without its ignored files and follows it to success', async () => {
    // VERSION.txt is what the hello app answers at /version ('none' without it).
    const dir = appDir({
      ...nodeHelloApp,
      'VERSION.txt': 'should not be deployed\n',
      '.gitignore': '# local files\nVERSION.txt\nnode_modules/\n',
      'node_modules/left-out/index.js': 'module.exports = 1;\n',
    });
    execFileSync('git', ['init', '-q', dir]);
    const result = await cli(['deploy', dir, '--app', 'web1'], { env });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /-----> build/);
    assert.match(result.stdout, /-----> rollout/);
    assert.match(result.stdout, /deployed web1: release v1\n$/);
    const version = await viaRouter(server.server.routerUrl, 'web1', '/version');
    assert.equal(version.text, 'none');
    assert.equal(
      (await viaRouter(server.server.routerUrl, 'web1', '/')).text,
      'hello from web1 v1',
    );

    const listing = await cli(['run', 'web1', '--', 'ls', '-a'], { env });
    assert.equal(listing.code, 0, listing.stderr);
    const files = listing.stdout.split('\n');
    assert.ok(files.includes('server.js'), listing.stdout);
    assert.ok(files.includes('.gitignore'));
    for (const absent of ['VERSION.txt', '.git', 'node_modules']) {
      assert.ok(!files.includes(absent), `${absent} was deployed: ${listing.stdout}`);
    }
  });

  it('fails a deploy whose build fails, with the task error and a non-zero exit', async () => {
    assert.equal((await cli(['apps', 'create', 'broken1'], { env })).code, 0);
    const result = await cli(['deploy', appDir(failingBuildApp), '--app', 'broken1'], { env });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /build failed on purpose/);
    assert.match(result.stderr, /^error: DEPLOY_FAILED: .+/m);
    assert.equal(result.stderr.trim().split('\n').at(-1)?.startsWith('error: DEPLOY_FAILED'), true);
    const unknown = await cli(['deploy', appDir(nodeHelloApp), '--app', 'nosuch'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error: APP_NOT_FOUND: /);
  });

  it('sets, shows and unsets config; the app sees it in a new release', async () => {
    const set = await cli(['config', 'set', 'web1', 'GREETING=hi there', 'MODE=a=b'], { env });
    assert.equal(set.code, 0, set.stderr);
    // It says which release the change made, the newest one.
    const made = /^set GREETING, MODE on web1; release v(\d+) rolling out\n$/.exec(set.stdout);
    assert.ok(made, set.stdout);
    const releases = await cli(['releases', 'web1', '--json'], { env });
    assert.equal(
      (JSON.parse(releases.stdout) as { version: number }[])[0]?.version,
      Number(made[1]),
    );
    const got = await cli(['config', 'web1', '--json'], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout), { GREETING: 'hi there', MODE: 'a=b' });
    const table = await cli(['config', 'get', 'web1'], { env });
    assert.match(table.stdout, /^GREETING\s+hi there$/m);
    await eventually('the new release answers with the config', async () => {
      const reply = await viaRouter(server.server.routerUrl, 'web1', '/env/GREETING');
      return reply.text === 'hi there';
    });
    const unset = await cli(['config', 'unset', 'web1', 'MODE'], { env });
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stdout, /^unset MODE on web1; release v\d+ rolling out\n$/);
    const after = await cli(['config', 'web1', '--json'], { env });
    assert.deepEqual(JSON.parse(after.stdout), { GREETING: 'hi there' });
    const bad = await cli(['config', 'set', 'web1', 'NOEQUALS'], { env });
    assert.equal(bad.code, 2);
  });

  it('scales, lists units and releases, and rolls back', async () => {
    const scaled = await cli(['scale', 'web1', 'web=2', '--json'], { env });
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal((JSON.parse(scaled.stdout) as { web: { count: number } }).web.count, 2);
    await eventually(
      'two web units run',
      async () => {
        const ps = await cli(['ps', 'web1', '--json'], { env });
        const units = JSON.parse(ps.stdout) as { type: string; state: string }[];
        return units.filter((u) => u.type === 'web' && u.state === 'running').length === 2;
      },
      60_000,
      500,
    );
    const table = await cli(['ps', 'web1'], { env });
    assert.match(table.stdout, /^UNIT\s+STATE\s+RELEASE/);
    assert.match(table.stdout, /^web\.1\s+running\s+v\d+/m);

    const releases = await cli(['releases', 'web1', '--json'], { env });
    assert.equal(releases.code, 0, releases.stderr);
    const list = JSON.parse(releases.stdout) as { version: number }[];
    assert.ok(list.length >= 3, releases.stdout);
    const newest = list[0]?.version ?? 0;
    const rolled = await cli(['rollback', 'web1', 'v1', '--json'], { env });
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.equal((JSON.parse(rolled.stdout) as { version: number }).version, newest + 1);
    const plain = await cli(['rollback', 'web1'], { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      new RegExp(`rolled back web1 to v${newest}: now release v${newest + 2}`),
    );
    const bad = await cli(['rollback', 'web1', 'v999'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: [A-Z_]+: /);
  });

  it('runs a one-off command and exits with its code', async () => {
    const ok = await cli(['run', 'web1', '--', 'node', '-e', 'console.log(process.env.GREETING)'], {
      env,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'hi there\n');
    const failing = await cli(['run', 'web1', '--', 'node', '-e', 'process.exit(3)'], { env });
    assert.equal(failing.code, 3);
    const json = await cli(['run', '--json', 'web1', '--', 'echo', 'x'], { env });
    assert.equal((JSON.parse(json.stdout) as { exitCode: number }).exitCode, 0);
    const none = await cli(['run', 'web1'], { env });
    assert.equal(none.code, 2);
  });

  it("runs in the app of the checkout's berth remote when no app is named", async () => {
    const checkout = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-checkout-'));
    execFileSync('git', ['init', '-q', checkout]);
    execFileSync('git', ['remote', 'add', 'berth', `${server.url}/git/web1.git`], {
      cwd: checkout,
    });
    const bare = await cli(['run', '--', 'node', '-e', 'console.log(process.env.GREETING)'], {
      env,
      cwd: checkout,
    });
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(bare.stdout, 'hi there\n');
    const withJson = await cli(['run', '--json', '--', 'node', '-v'], { env, cwd: checkout });
    assert.equal(withJson.code, 0, withJson.stderr);
    assert.match((JSON.parse(withJson.stdout) as { output: string }).output, /^v\d+\./);
    // An app named before `--`, or with --app, wins over the remote's.
    const named = await cli(['run', 'nosuch', '--', 'node', '-v'], { env, cwd: checkout });
    assert.equal(named.code, 1);
    assert.match(named.stderr, /APP_NOT_FOUND: .*nosuch/);
    const flagged = await cli(['run', '--app', 'web1', '--', 'node', '-v'], { env, cwd: checkout });
    assert.equal(flagged.code, 0, flagged.stderr);
    const outside = await cli(['run', '--', 'node', '-v'], { env, cwd: os.tmpdir() });
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /which app\?/);
  });

  it('prints recent logs and follows new ones over the WebSocket', async () => {
    const recent = await cli(['logs', 'web1', '--tail', '50'], { env });
    assert.equal(recent.code, 0, recent.stderr);
    // Each line names the release whose unit wrote it.
    assert.match(recent.stdout, / v\d+ web\.\d+: listening on \d+/);
    const json = await cli(['logs', 'web1', '--json', '--process', 'web', '--tail', '5'], { env });
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    assert.ok(lines.length > 0 && lines.every((l) => l.type === 'web'));

    const follow = startCli(['logs', 'web1', '-f', '--tail', '0'], { env });
    // Give the follow time to subscribe, then make a new unit log 'listening on'.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const changed = await cli(['config', 'set', 'web1', 'FOLLOWED=1'], { env });
    assert.equal(changed.code, 0, changed.stderr);
    await eventually(
      'the follow prints the new unit',
      async () => /listening on \d+/.test(follow.output().stdout),
      60_000,
      200,
    );
    follow.child.kill('SIGINT');
    const ended = await follow.exited;
    assert.equal(ended.code, 0, ended.stderr);
  });

  it('shows in apps info what runs, where, how the last deploy went and a failed rollout', async () => {
    const info = await cli(['apps', 'info', 'web1'], { env });
    assert.equal(info.code, 0, info.stderr);
    const releases = await cli(['releases', 'web1', '--json'], { env });
    const newest = (JSON.parse(releases.stdout) as { version: number }[])[0]?.version;
    assert.match(info.stdout, /^url: +http:\/\/web1\.localhost:7180\/ \(assumed /m);
    assert.match(info.stdout, new RegExp(`^release: +v${newest}$`, 'm'));
    assert.match(info.stdout, /^formation: +web=2$/m);
    assert.match(info.stdout, /^last deploy: +succeeded at \S+ \(v1\)$/m);
    const remote = info.stdout.split('\n').find((l) => l.startsWith('git remote:'));
    assert.equal(remote?.replace(/: +/, ': '), `git remote: ${server.url}/git/web1.git`);
    assert.doesNotMatch(info.stdout, /rollout failed/);

    assert.equal((await cli(['apps', 'create', 'sick1'], { env })).code, 0);
    const good = await cli(['deploy', appDir(nodeHelloApp), '--app', 'sick1'], { env });
    assert.equal(good.code, 0, good.stderr);
    const bad = await cli(['deploy', appDir(failingHealthApp), '--app', 'sick1'], { env });
    assert.equal(bad.code, 1, bad.stdout);
    const sick = await cli(['apps', 'info', 'sick1'], { env });
    assert.equal(sick.code, 0, sick.stderr);
    assert.match(sick.stdout, /^release: +v1$/m);
    assert.match(sick.stdout, /^last deploy: +failed at \S+( \(v2\))?: .*health/m);
    assert.match(sick.stdout, /^rollout failed: +v2: .*health/m);
    const json = await cli(['apps', 'info', 'sick1', '--json'], { env });
    const shown = JSON.parse(json.stdout) as {
      name: string;
      gitUrl: string;
      rollout: { liveVersion: number; failedVersion: number };
      lastDeployment: { status: string };
    };
    assert.equal(shown.name, 'sick1');
    assert.equal(shown.gitUrl, `${server.url}/git/sick1.git`);
    assert.deepEqual(
      [shown.rollout.liveVersion, shown.rollout.failedVersion, shown.lastDeployment.status],
      [1, 2, 'failed'],
    );
  });
});
