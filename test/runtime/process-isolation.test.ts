// The process runtime's isolation of apps, on the real kernel: each app's units and one-offs
// run as its own uid with no groups, capabilities or new privileges, in control groups that
// enforce memory and process limits and are killed whole on stop, timeout and app removal.
// Needs root (the controller's multi-tenant mode); CI runs as root.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppSandboxes,
  detectIsolation,
  ProcessDriver,
  processesOfUid,
  RuntimeDriver,
  type AppAccount,
  type UnitSpec,
} from '../../src/runtime/index.js';

/** Retries `probe` until it stops throwing (an assertion), for at most `timeoutMs`. */
async function eventually<T>(
  probe: () => Promise<T>,
  { timeoutMs = 15_000 }: { timeoutMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

const isRoot = process.getuid?.() === 0;

const QUICK = { maxRestarts: 1, backoffMs: 50, maxBackoffMs: 100, resetAfterMs: 10_000 };

describe(
  'process runtime isolation (root: an app user each, control groups)',
  { skip: !isRoot && 'needs root' },
  () => {
    let dir: string;
    let artifact: string;
    let driver: RuntimeDriver;
    let sandboxes: AppSandboxes;
    let counter = 0;
    const accounts: AppAccount[] = [];

    const newAccount = (): AppAccount => {
      counter++;
      const account = {
        appId: `iso-${process.pid}-${counter}`,
        uid: 460_000 + (process.pid % 10_000) * 10 + counter,
      };
      accounts.push(account);
      return account;
    };
    const appOf = (account: AppAccount) => account.appId;

    const spec = (
      account: AppAccount,
      script: string,
      extra: Partial<UnitSpec> = {},
    ): UnitSpec => ({
      id: `${appOf(account)}-web-1`,
      app: appOf(account),
      release: 1,
      processType: 'web',
      index: 1,
      command: { kind: 'exec', argv: [process.execPath, '-e', script] },
      artifact: { kind: 'directory', path: artifact },
      env: { SECRET: `secret-of-${account.appId}` },
      restart: QUICK,
      account,
      ...extra,
    });

    const logText = async (app: string): Promise<string> =>
      (await driver.readLogs({ app, tail: 500 })).map((line) => line.text).join('\n');

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-isolation-'));
      await chmod(dir, 0o711);
      artifact = path.join(dir, 'artifact');
      await mkdir(artifact, { mode: 0o755 });
      await chmod(artifact, 0o755);
      await writeFile(path.join(artifact, 'README'), 'shared, world-readable fixture\n', {
        mode: 0o644,
      });
      const isolation = await detectIsolation();
      assert.equal(isolation.kind, 'users', 'a root controller isolates apps by user');
      sandboxes = new AppSandboxes({
        isolation,
        appsRoot: path.join(dir, 'apps'),
        scopeKey: dir,
        caps: { pids: 32, openFiles: 256, appProcesses: 256 },
      });
      driver = new RuntimeDriver(
        new ProcessDriver({
          root: path.join(dir, 'runtime'),
          portRange: { from: 24_000, to: 24_499 },
          sandboxes,
        }),
      );
      await driver.init();
    });

    after(async () => {
      for (const account of accounts)
        await driver.removeApp(appOf(account), account).catch(() => undefined);
      await driver.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a unit without an account: nothing runs as root', async () => {
      const { account: _none, ...bare } = spec(newAccount(), 'setInterval(() => {}, 1000)');
      await assert.rejects(driver.start(bare), {
        code: 'UNIT_SPEC_INVALID',
        message: /user of its own/,
      });
    });

    it('runs a unit as its own uid and gid, no groups, no capabilities, no new privileges, umask 077', async () => {
      const account = newAccount();
      const script = `
      const fs = require('node:fs');
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const field = (name) => new RegExp('^' + name + ':\\\\s*(.*)$', 'm').exec(status)[1].trim();
      console.log(JSON.stringify({
        uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
        capEff: field('CapEff'), capBnd: field('CapBnd'), noNewPrivs: field('NoNewPrivs'),
        umask: process.umask().toString(8), home: process.env.HOME, tmp: process.env.TMPDIR,
        nofile: require('node:child_process').execSync('ulimit -n').toString().trim(),
        cgroups: fs.readFileSync('/proc/self/cgroup', 'utf8'),
      }));
      setInterval(() => {}, 1000);`;
      await driver.start(spec(account, script));
      const text = await eventually(async () => {
        const found = (await logText(appOf(account)))
          .split('\n')
          .find((line) => line.startsWith('{'));
        assert.ok(found, 'the unit printed what it is');
        return found;
      });
      const seen = JSON.parse(text) as Record<string, unknown>;
      assert.equal(seen['uid'], account.uid);
      assert.equal(seen['gid'], account.uid);
      assert.deepEqual(seen['groups'], [account.uid]);
      assert.equal(seen['capEff'], '0000000000000000');
      assert.equal(seen['capBnd'], '0000000000000000');
      assert.equal(seen['noNewPrivs'], '1');
      assert.equal(seen['umask'], '77');
      assert.equal(seen['nofile'], '256');
      assert.equal(seen['home'], sandboxes.appHome(account.appId).home);
      assert.match(
        String(seen['cgroups']),
        new RegExp(`memory:/berth-[0-9a-f]{12}/${appOf(account)}-web-1`),
      );
      assert.match(
        String(seen['cgroups']),
        new RegExp(`pids:/berth-[0-9a-f]{12}/${appOf(account)}-web-1`),
      );
    });

    it("keeps one app out of another's files, environment and processes", async () => {
      const victim = newAccount();
      const intruder = newAccount();
      await driver.start(
        spec(
          victim,
          `require('node:fs').writeFileSync(process.env.HOME + '/private.txt', 'mine'); setInterval(() => {}, 1000);`,
        ),
      );
      const victimHome = sandboxes.appHome(victim.appId).home;
      await eventually(async () => {
        assert.ok((await processesOfUid(victim.uid)).length > 0);
      });
      const [victimPid] = await processesOfUid(victim.uid);
      const script = `
      const fs = require('node:fs');
      const attempt = (what, read) => { try { read(); return what + ': read'; } catch (e) { return what + ': ' + e.code; } };
      console.log([
        attempt('home', () => fs.readFileSync(${JSON.stringify(path.join(victimHome, 'private.txt'))})),
        attempt('environ', () => fs.readFileSync('/proc/${victimPid}/environ')),
        attempt('runtime', () => fs.readdirSync(${JSON.stringify(path.join(dir, 'runtime'))})),
        attempt('kill', () => process.kill(${victimPid}, 'SIGKILL')),
      ].join(' | '));
      setInterval(() => {}, 1000);`;
      await driver.start(spec(intruder, script));
      const line = await eventually(async () => {
        const found = (await logText(appOf(intruder)))
          .split('\n')
          .find((text) => text.startsWith('home:'));
        assert.ok(found);
        return found;
      });
      assert.equal(line, 'home: EACCES | environ: EACCES | runtime: EACCES | kill: EPERM');
      assert.ok((await processesOfUid(victim.uid)).includes(victimPid!), 'the victim still runs');
    });

    it('kills a unit at its memory limit and reports it: killed, then crashed: out of memory', async () => {
      const account = newAccount();
      const hog = `const keep = []; setInterval(() => { for (let i = 0; i < 16; i++) keep.push(Buffer.alloc(1 << 20, 1)); }, 5);`;
      await driver.start(spec(account, hog, { limits: { memoryBytes: 64 * 1024 * 1024 } }));
      const unit = await eventually(
        async () => {
          const [found] = await driver.list({ app: appOf(account) });
          assert.equal(found?.state, 'crashed');
          return found;
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(unit.lastExit?.reason, 'oom');
      assert.deepEqual(unit.limits, { memoryBytes: 64 * 1024 * 1024 });
      const text = await logText(appOf(account));
      assert.match(text, /killed: out of memory/);
      assert.match(text, /crashed: out of memory/);
    });

    it('caps the processes of a unit (pids), so a fork loop stops at the limit', async () => {
      const account = newAccount();
      const forks = `
      const { spawn } = require('node:child_process');
      let started = 0, refused = 0;
      const next = (n) => { if (n === 0) { console.log('forks started ' + started + ' refused ' + refused); return; }
        const child = spawn('sleep', ['30']);
        child.on('spawn', () => { started++; next(n - 1); });
        child.on('error', () => { refused++; next(n - 1); }); };
      next(60);
      setInterval(() => {}, 1000);`;
      await driver.start(spec(account, forks));
      const line = await eventually(
        async () => {
          const found = (await logText(appOf(account)))
            .split('\n')
            .find((text) => text.startsWith('forks started '));
          assert.ok(found);
          return found;
        },
        { timeoutMs: 20_000 },
      );
      const [, started, refused] = /started (\d+) refused (\d+)/.exec(line)!.map(Number);
      assert.ok(started! < 32, `at most the pids limit ran (${line})`);
      assert.ok(refused! > 0, line);
    });

    it('stopping a unit ends what escaped its process group (setsid)', async () => {
      const account = newAccount();
      const escape = `require('node:child_process').spawn('setsid', ['sleep', '300'], { detached: true, stdio: 'ignore' }).unref(); setInterval(() => {}, 1000);`;
      const unit = await driver.start(spec(account, escape));
      await eventually(async () => assert.ok((await processesOfUid(account.uid)).length >= 2));
      await driver.stop(unit.id, { graceMs: 500 });
      assert.deepEqual(await processesOfUid(account.uid), []);
    });

    it("a one-off's timeout kills its whole tree, an escaped setsid child too", async () => {
      const account = newAccount();
      const result = await driver.run(
        {
          id: `${appOf(account)}-run-1`,
          app: appOf(account),
          release: 1,
          command: { kind: 'shell', line: 'setsid sleep 300 & sleep 300' },
          artifact: { kind: 'directory', path: artifact },
          env: {},
          timeoutMs: 1000,
          account,
        },
        () => undefined,
        AbortSignal.timeout(30_000),
      );
      assert.equal(result.timedOut, true);
      await eventually(async () => assert.deepEqual(await processesOfUid(account.uid), []));
    });

    it('removing an app ends every process of its uid and deletes its logs and files', async () => {
      const account = newAccount();
      await driver.start(
        spec(
          account,
          `require('node:child_process').spawn('setsid', ['sleep', '300'], { detached: true, stdio: 'ignore' }).unref(); console.log('up'); setInterval(() => {}, 1000);`,
        ),
      );
      await eventually(async () => assert.match(await logText(appOf(account)), /up/));
      await driver.removeApp(appOf(account), account);
      assert.deepEqual(await processesOfUid(account.uid), []);
      assert.deepEqual(await driver.list({ app: appOf(account) }), []);
      assert.deepEqual(await driver.readLogs({ app: appOf(account) }), []);
      await sleep(10);
    });
  },
);
