// One user's app must never reach the platform or another user's app (process runtime, a
// root controller): two users on one server, B's one-off and B's unit try A's secrets and
// the data dir; a destroyed app leaves nothing a new app of its name could read; a server
// that cannot switch users holds one user's apps only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  storeConfigVarAsOlderBerth,
  type TestServer,
} from '../support/api.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';
import { BERTH_BIN } from '../support/server-process.js';
import { stopDataPlane } from '../../src/server/index.js';

const isRoot = process.getuid?.() === 0;

/** A script for a one-off of B's: tries each of A's secrets and the data dir, prints the outcomes. */
function probeScript(dataDir: string, victimApp: string, victimAppId: string): string {
  return `
    const fs = require('node:fs');
    const out = {};
    const attempt = (what, read) => { try { read(); out[what] = 'read'; } catch (e) { out[what] = e.code; } };
    attempt('master.key', () => fs.readFileSync(${JSON.stringify(path.join(dataDir, 'master.key'))}));
    attempt('initial-admin-token', () => fs.readFileSync(${JSON.stringify(path.join(dataDir, 'initial-admin-token'))}));
    attempt('berth.db', () => fs.readFileSync(${JSON.stringify(path.join(dataDir, 'berth.db'))}));
    attempt('data dir listing', () => fs.readdirSync(${JSON.stringify(dataDir)}));
    attempt('logs', () => fs.readdirSync(${JSON.stringify(path.join(dataDir, 'runtime', 'logs', victimApp))}));
    attempt('slugs', () => fs.readdirSync(${JSON.stringify(path.join(dataDir, 'apps', victimAppId, 'slugs'))}));
    attempt('home', () => fs.readdirSync(${JSON.stringify(path.join(dataDir, 'apps', victimAppId, 'home'))}));
    attempt('write outside', () => fs.writeFileSync(${JSON.stringify(path.join(dataDir, 'planted'))}, 'x'));
    const mine = process.getuid();
    const environs = [];
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
      try {
        const uid = Number(/^Uid:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'))[1]);
        if (uid === mine) continue;
        try { if (fs.readFileSync('/proc/' + pid + '/environ', 'utf8').includes('hunter2')) environs.push('LEAK ' + pid); }
        catch (e) { environs.push(e.code); }
      } catch {}
    }
    out.environs = [...new Set(environs)].sort().join(',');
    out.uid = mine;
    console.log(JSON.stringify(out));`;
}

describe(
  'apps kept apart on the process runtime (root controller)',
  { skip: !isRoot && 'needs root' },
  () => {
    let server: TestServer;
    let alice: string;
    let bob: string;

    before(async () => {
      server = await startTestServer('sqlite');
      alice = await createUserAndLogin(server, 'alice');
      bob = await createUserAndLogin(server, 'bob');
    });
    after(() => server.close());

    async function createApp(token: string, name: string): Promise<{ id: string; name: string }> {
      const reply = await server.request('POST', '/apps', { token, body: { name } });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body as { id: string; name: string };
    }

    it("B's one-off cannot read the data dir, A's config, logs, files or environment", async () => {
      const a = await createApp(alice, 'alice-app');
      await createApp(bob, 'bob-app');
      const set = await server.request('PATCH', '/apps/alice-app/config', {
        token: alice,
        body: { SECRET: 'hunter2' },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      for (const [token, app] of [
        [alice, 'alice-app'],
        [bob, 'bob-app'],
      ] as const) {
        const record = await deploy(server, token, app, nodeHelloApp);
        assert.equal(record.status, 'succeeded', record.details.error ?? '');
      }
      assert.equal((await viaRouter(server.server.routerUrl, 'alice-app')).status, 200);

      const run = await server.request('POST', '/apps/bob-app/run', {
        token: bob,
        body: { command: ['node', '-e', probeScript(server.location.dataDir, 'alice-app', a.id)] },
      });
      assert.equal(run.status, 200, JSON.stringify(run.body));
      const { output, exitCode } = run.body as { output: string; exitCode: number };
      assert.equal(exitCode, 0, output);
      const seen = JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, unknown>;
      assert.deepEqual(
        { ...seen, uid: undefined },
        {
          'master.key': 'EACCES',
          'initial-admin-token': 'EACCES',
          'berth.db': 'EACCES',
          'data dir listing': 'EACCES',
          logs: 'EACCES',
          slugs: 'EACCES',
          home: 'EACCES',
          'write outside': 'EACCES',
          environs: 'EACCES',
          uid: undefined,
        },
      );
      assert.notEqual(seen['uid'], 0);
      assert.equal(existsSync(path.join(server.location.dataDir, 'planted')), false);

      // A's own process does see its secret: the probe looks where the secret is.
      const own = await server.request('POST', '/apps/alice-app/run', {
        token: alice,
        body: { command: 'echo "$SECRET"' },
      });
      assert.equal((own.body as { output: string }).output.trim(), 'hunter2');
    });

    it('units of two apps run as two different unprivileged uids', async () => {
      const uids = [];
      for (const [token, app] of [
        [alice, 'alice-app'],
        [bob, 'bob-app'],
      ] as const) {
        const run = await server.request('POST', `/apps/${app}/run`, {
          token,
          body: { command: 'id -u; id -G' },
        });
        const [uid, groups] = (run.body as { output: string }).output.trim().split('\n');
        assert.equal(groups, uid, 'no supplementary groups');
        uids.push(Number(uid));
      }
      assert.ok(
        uids.every((uid) => uid >= 1_000_000_000 && uid < 2_000_000_000),
        String(uids),
      );
      assert.notEqual(uids[0], uids[1]);
    });

    it('a slug built before apps had users of their own becomes the app’s at its next rollout', async () => {
      const app = await createApp(alice, 'legacy');
      const record = await deploy(server, alice, 'legacy', nodeHelloApp);
      assert.equal(record.status, 'succeeded', record.details.error ?? '');
      const slugs = path.join(server.location.dataDir, 'apps', app.id, 'slugs');
      const [slug] = readdirSync(slugs).filter((name) => !name.endsWith('.built'));
      const slugDir = path.join(slugs, slug!);
      const appUid = statSync(slugDir).uid;
      assert.notEqual(appUid, 0);
      // As an older Berth left it: root's, readable by all.
      chownSync(slugDir, 0, 0);
      chmodSync(slugDir, 0o755);
      const set = await server.request('PATCH', '/apps/legacy/config', {
        token: alice,
        body: { ROLLED: 'yes' },
      });
      assert.equal(set.status, 200);
      await eventually('the new release serves', async () => {
        const run = await server.request('POST', '/apps/legacy/run', {
          token: alice,
          body: { command: 'echo "$ROLLED"' },
        });
        return (run.body as { output?: string }).output?.trim() === 'yes';
      });
      await eventually('the slug is the app’s again', async () => {
        const info = statSync(slugDir);
        return info.uid === appUid && (info.mode & 0o777) === 0o700;
      });
    });

    it('a config key the runtime sets itself, stored before it was refused, fails one rollout, said once', async () => {
      const app = await createApp(alice, 'legacy-key');
      const record = await deploy(server, alice, 'legacy-key', nodeHelloApp);
      assert.equal(record.status, 'succeeded', record.details.error ?? '');
      // As an older Berth stored it: the API refuses PORT now.
      await storeConfigVarAsOlderBerth(server, app.id, 'PORT', '80');
      const set = await server.request('PATCH', '/apps/legacy-key/config', {
        token: alice,
        body: { OTHER: '1' },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      let shown: { rollout?: { liveVersion: number; failedVersion: number; failure: string } } = {};
      await eventually('the failed rollout is recorded and shown', async () => {
        shown = (await server.request('GET', '/apps/legacy-key', { token: alice }))
          .body as typeof shown;
        return shown.rollout?.failedVersion === 2;
      });
      assert.equal(shown.rollout?.liveVersion, 1);
      assert.match(shown.rollout?.failure ?? '', /PORT is set by the runtime/);
      assert.equal((await viaRouter(server.server.routerUrl, 'legacy-key')).status, 200);
      // Several reconciler passes later (one every 2 s), v2 was tried once.
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const tries = server
        .logText()
        .split('\n')
        .filter(
          (line) =>
            line.includes('"app":"legacy-key"') && line.includes('rolling out a new release'),
        );
      assert.equal(tries.length, 1, tries.join('\n'));
    });

    it('a re-created app of the same name starts empty: no logs, slugs, repository or processes', async () => {
      const old = await createApp(alice, 'reuse');
      const set = await server.request('PATCH', '/apps/reuse/config', {
        token: alice,
        body: { GREETING: 'alice-was-here' },
      });
      assert.equal(set.status, 200);
      const record = await deploy(server, alice, 'reuse', {
        ...nodeHelloApp,
        'server.js': `console.log('secret line ' + process.env.GREETING);\n${nodeHelloApp['server.js']}`,
      });
      assert.equal(record.status, 'succeeded', record.details.error ?? '');
      await eventually('the old app logs its secret line', async () => {
        const reply = await server.request('GET', '/apps/reuse/logs?tail=100', { token: alice });
        return JSON.stringify(reply.body).includes('alice-was-here');
      });
      const gitPush = await server.request('GET', '/apps/reuse/git', { token: alice });
      assert.equal(gitPush.status, 200);
      const dataDir = server.location.dataDir;

      const destroyed = await server.request('DELETE', '/apps/reuse', { token: alice });
      assert.equal(destroyed.status, 204);
      assert.equal(
        existsSync(path.join(dataDir, 'runtime', 'logs', 'reuse')),
        false,
        'logs removed',
      );
      assert.equal(existsSync(path.join(dataDir, 'apps', old.id)), false, 'slugs and home removed');
      assert.equal(existsSync(path.join(dataDir, 'git', 'reuse.git')), false, 'repository removed');

      await createApp(bob, 'reuse');
      const fresh = await server.request('GET', '/apps/reuse/logs?tail=100', { token: bob });
      assert.equal(fresh.status, 200);
      assert.doesNotMatch(JSON.stringify(fresh.body), /alice-was-here/);
      assert.deepEqual(fresh.body, []);
      const processes = await server.request('GET', '/apps/reuse/processes', { token: bob });
      assert.deepEqual(processes.body, []);
    });
  },
);

describe(
  'a controller that cannot switch users is single-tenant',
  { skip: !isRoot && 'needs root to start one as nobody' },
  () => {
    const NOBODY = 65534;
    let dataDir: string;
    let child: ReturnType<typeof spawn>;
    let url = '';
    const logs: Array<Record<string, unknown>> = [];

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'berth-single-'));
      chownSync(dataDir, NOBODY, NOBODY);
      child = spawn(
        process.execPath,
        [
          BERTH_BIN,
          'server',
          '--data-dir',
          dataDir,
          '--listen',
          '127.0.0.1:0',
          '--router-listen',
          '127.0.0.1:0',
          '--ssh-listen',
          '127.0.0.1:0',
        ],
        {
          uid: NOBODY,
          gid: NOBODY,
          cwd: tmpdir(),
          env: {
            PATH: process.env['PATH'] ?? '/usr/bin:/bin',
            HOME: dataDir,
            BERTH_UNIT_PORTS: '31000-31099',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start in 60 s: ${stderr}`)), 60_000);
        readline.createInterface({ input: child.stdout! }).on('line', (line) => {
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            logs.push(entry);
            if (entry['msg'] === 'berth server listening') {
              clearTimeout(timer);
              resolve(String(entry['url']));
            }
          } catch {
            // not a log line
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
    });

    after(async () => {
      child.kill('SIGKILL');
      await stopDataPlane(dataDir, 1000).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    });

    const call = async (method: string, pathname: string, token: string, body?: unknown) => {
      const response = await fetch(`${url}/api/v1${pathname}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return {
        status: response.status,
        body: await response.json().catch((): unknown => undefined),
      };
    };

    it('says so at start, and refuses a second user’s app with a pointer to what to do', async () => {
      const warning = logs.find((entry) => String(entry['msg']).startsWith('single-tenant'));
      assert.ok(warning, 'the start log says the server is single-tenant');
      assert.match(String(warning['reason']), /not root/);
      const { readFileSync } = await import('node:fs');
      const admin = readFileSync(path.join(dataDir, 'initial-admin-token'), 'utf8').trim();
      assert.equal((await call('POST', '/apps', admin, { name: 'first' })).status, 201);
      const password = 'a-long-enough-passphrase-42';
      assert.equal(
        (await call('POST', '/users', admin, { username: 'carol', password })).status,
        201,
      );
      const login = await fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'carol', password }),
      });
      const carol = ((await login.json()) as { token: string }).token;
      const refused = await call('POST', '/apps', carol, { name: 'second' });
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(errorCode(refused as never), 'SINGLE_TENANT_RUNTIME');
      assert.match(JSON.stringify(refused.body), /--runtime container/);
      // The same user may have more apps.
      assert.equal((await call('POST', '/apps', admin, { name: 'third' })).status, 201);
    });
  },
);
