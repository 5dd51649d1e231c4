// The cron worker on both stores, with a clock the test moves and real one-offs on the process
// runtime: a run is recorded with its exit code and output; forbid skips an overlapping slot,
// replace stops the old run, allow overlaps; suspended and maintenance entries do not run; a
// controller that was down runs one catch-up; two controllers run a slot once.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CronService,
  cronState,
  type CronRun,
  type CronScheduleSpec,
} from '../../src/domain/cron/index.js';
import { changeTopic } from '../../src/changes/index.js';
import { silentLogger } from '../../src/logging/index.js';
import { ProcessDriver, RuntimeDriver } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { CronWorker, type CronExecutor } from '../../src/workers/cron/index.js';
import { streamFor } from '../support/changes.js';
import { backends } from '../support/databases.js';
import { insertApp, openTestStore, reopenStore } from '../support/stores.js';

let dir: string;
let driver: RuntimeDriver;
let artifactPath: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-cron-'));
  artifactPath = path.join(dir, 'app');
  await mkdir(artifactPath);
  driver = new RuntimeDriver(new ProcessDriver({ root: path.join(dir, 'runtime') }));
  await driver.init();
});
after(async () => {
  await driver.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** A clock the test sets; the service and the worker share it. */
class TestClock {
  now = new Date('2026-01-01T00:00:30Z');
  set(iso: string): void {
    this.now = new Date(iso);
  }
  readonly read = (): Date => this.now;
}

let counter = 0;
/** Real one-offs of a directory artifact, counted. */
function executor(calls: string[]): CronExecutor {
  return {
    async run(appId, command, signal) {
      calls.push(`${appId} ${command}`);
      const result = await driver.run(
        {
          id: `cron-test-${++counter}`,
          app: 'crontest',
          release: 1,
          command: { kind: 'shell', line: command },
          artifact: { kind: 'directory', path: artifactPath },
          env: { GREETING: 'from the release env' },
          timeoutMs: 60_000,
        },
        () => undefined,
        signal,
      );
      return { ...result, release: 1 };
    },
  };
}

async function worker(
  store: Store,
  clock: TestClock,
  apps: Map<string, readonly CronScheduleSpec[]>,
  calls: string[],
): Promise<{ worker: CronWorker; cron: CronService }> {
  const { stream, hub } = streamFor(store);
  await stream.start();
  const cron = new CronService({ state: cronState(store), clock: clock.read });
  const made = new CronWorker({
    cron,
    sources: {
      changes: changeTopic('live_releases'),
      live: async () =>
        [...apps.keys()].map((appId) => ({
          appId,
          version: 1,
          failedVersion: null,
          failure: null,
          updatedAt: '',
        })),
      entriesOf: async (appId) => apps.get(appId),
    },
    executor: executor(calls),
    hub,
    logger: silentLogger(),
    checkIntervalMs: 50,
    leaseMs: 3_600_000,
    runTimeoutMs: 60_000,
    clock: clock.read,
  });
  after(() => made.stop());
  return { worker: made, cron };
}

const every = (
  id: string,
  command: string,
  policy: CronScheduleSpec['concurrencyPolicy'] = 'allow',
  maintenance = false,
): CronScheduleSpec => ({
  id,
  command,
  schedule: '* * * * *',
  concurrencyPolicy: policy,
  maintenance,
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const byStatus = (runs: readonly CronRun[]) =>
  runs.map((r) => `${r.slot?.slice(11, 16) ?? 'manual'} ${r.status}`).sort();

for (const backend of backends) {
  describe(`cron worker (${backend})`, () => {
    it('runs each policy on its slots, records runs, catches up once', async () => {
      const { store } = await openTestStore(backend);
      const ids = {
        basic: await insertApp(store, 'basic'),
        forbid: await insertApp(store, 'forbid'),
        replace: await insertApp(store, 'replace'),
        allow: await insertApp(store, 'allow'),
        quiet: await insertApp(store, 'quiet'),
      };
      const apps = new Map<string, readonly CronScheduleSpec[]>([
        [ids.basic, [every('hello', 'echo "hello $GREETING"; echo to stderr >&2; exit 3')]],
        [ids.forbid, [every('slow', 'sleep 30', 'forbid')]],
        [ids.replace, [every('slow', 'sleep 30', 'replace')]],
        [ids.allow, [every('slow', 'sleep 30', 'allow')]],
        [ids.quiet, [every('paused', 'echo no'), every('maint', 'echo no', 'allow', true)]],
      ]);
      const clock = new TestClock();
      const calls: string[] = [];
      const { worker: w, cron } = await worker(store, clock, apps, calls);
      w.start();
      await w.tick();
      assert.deepEqual((await cron.schedules()).map((s) => s.id).sort(), [
        'hello',
        'maint',
        'paused',
        'slow',
        'slow',
        'slow',
      ]);
      await cron.setSuspended(ids.quiet, 'paused', true);
      // Nothing is due before the first slot after the schedules took effect.
      assert.equal(calls.length, 0);
      const hello = (await cron.schedules(ids.basic))[0];
      assert.ok(hello);
      assert.equal((await cron.nextRun(hello))?.toISOString(), '2026-01-01T00:01:00.000Z');

      clock.set('2026-01-01T00:01:02Z');
      await w.tick();
      const first = await until('the first run to end', async () => {
        const [run] = await cron.runs(ids.basic);
        return run && run.status !== 'running' ? run : undefined;
      });
      assert.equal(first.status, 'failed');
      assert.equal(first.exitCode, 3);
      assert.equal(first.slot, '2026-01-01T00:01:00.000Z');
      assert.equal(first.trigger, 'schedule');
      assert.equal(first.release, 1);
      assert.match(first.output, /hello from the release env/);
      assert.match(first.output, /to stderr/);

      clock.set('2026-01-01T00:02:03Z');
      await w.tick();
      const forbid = await until('forbid to skip', async () => {
        const runs = await cron.runs(ids.forbid);
        return runs.length === 2 ? runs : undefined;
      });
      assert.deepEqual(byStatus(forbid), ['00:01 running', '00:02 skipped']);
      assert.match(forbid.find((r) => r.status === 'skipped')?.error ?? '', /forbid/);
      const replaced = await until('replace to stop the old run', async () => {
        const runs = await cron.runs(ids.replace);
        return runs.some((r) => r.status === 'stopped') ? runs : undefined;
      });
      assert.deepEqual(byStatus(replaced), ['00:01 stopped', '00:02 running']);
      assert.match(replaced.find((r) => r.status === 'stopped')?.error ?? '', /replace/);
      assert.deepEqual(byStatus(await cron.runs(ids.allow)), ['00:01 running', '00:02 running']);
      assert.deepEqual(await cron.runs(ids.quiet), [], 'suspended and maintenance never run');
      assert.equal(calls.filter((c) => c.startsWith(ids.allow)).length, 2);
      assert.equal(calls.filter((c) => c.startsWith(ids.forbid)).length, 1);

      // Down from 00:02 to 00:09: one catch-up run of the latest slot, not seven.
      await until('the second basic run', async () => {
        const runs = await cron.runs(ids.basic);
        return runs.length === 2 && runs.every((r) => r.status !== 'running') ? runs : undefined;
      });
      clock.set('2026-01-01T00:09:10Z');
      await w.tick();
      await w.tick();
      const basic = await cron.runs(ids.basic);
      assert.deepEqual(
        basic.map((r) => [r.slot?.slice(11, 16), r.trigger]),
        [
          ['00:09', 'catch-up'],
          ['00:02', 'schedule'],
          ['00:01', 'schedule'],
        ],
      );
      const last = await cron.lastRuns(ids.basic);
      assert.equal(last.get('hello')?.slot, '2026-01-01T00:09:00.000Z');

      // Resumed: from its next slot, without the slots it missed.
      await cron.setSuspended(ids.quiet, 'paused', false);
      const paused = (await cron.schedules(ids.quiet)).find((s) => s.id === 'paused');
      assert.ok(paused);
      assert.equal((await cron.nextRun(paused))?.toISOString(), '2026-01-01T00:10:00.000Z');

      // An app that is no longer deployed loses its schedules; its runs stay listed.
      apps.delete(ids.quiet);
      await w.tick();
      assert.deepEqual(await cron.schedules(ids.quiet), []);
      assert.equal((await cron.runs(ids.basic)).length, 3);

      // A controller that stops ends its runs as failed, saying why.
      await w.stop();
      const ended = await cron.runs(ids.allow);
      assert.ok(
        ended.every((r) => r.status === 'failed'),
        JSON.stringify(byStatus(ended)),
      );
      assert.match(ended[0]?.error ?? '', /controller stopped/);
    });

    it('keeps suspension by id when a new release replaces the schedules', async () => {
      const { store } = await openTestStore(backend);
      const appId = await insertApp(store, 'redeploy');
      const cron = new CronService({ state: cronState(store) });
      await cron.replaceSchedules(appId, 1, [every('a', 'echo a'), every('b', 'echo b')]);
      await cron.setSuspended(appId, 'a', true);
      await cron.replaceSchedules(appId, 2, [
        { ...every('a', 'echo a2'), schedule: '@hourly' },
        every('c', 'echo c'),
      ]);
      assert.deepEqual(
        (await cron.schedules(appId)).map((s) => [s.id, s.command, s.suspended, s.release]),
        [
          ['a', 'echo a2', true, 2],
          ['c', 'echo c', false, 2],
        ],
      );
      // An older release (a late controller) never overwrites a newer one's schedules.
      assert.equal(await cron.replaceSchedules(appId, 1, [every('z', 'echo z')]), false);
      assert.deepEqual(
        (await cron.schedules(appId)).map((s) => s.id),
        ['a', 'c'],
      );
    });

    it('runs a slot once with two controllers on one store', async () => {
      const { store, location } = await openTestStore(backend);
      const other = await reopenStore(location);
      after(() => other.close());
      const appId = await insertApp(store, 'twice');
      const apps = new Map([[appId, [every('once', 'echo once')]]]);
      const clock = new TestClock();
      const calls: string[] = [];
      const one = await worker(store, clock, apps, calls);
      const two = await worker(other, clock, apps, calls);
      one.worker.start();
      two.worker.start();
      await Promise.all([one.worker.tick(), two.worker.tick()]);
      for (const minute of ['01', '02', '03']) {
        clock.set(`2026-01-01T00:${minute}:01Z`);
        const ticks = await Promise.allSettled([
          one.worker.tick(),
          two.worker.tick(),
          one.worker.tick(),
        ]);
        for (const tick of ticks) if (tick.status === 'rejected') throw tick.reason;
      }
      await until('three runs to end', async () => {
        const runs = await one.cron.runs(appId);
        return runs.length === 3 && runs.every((r) => r.status === 'succeeded') ? runs : undefined;
      });
      assert.equal(calls.length, 3, calls.join('\n'));
    });

    it('runs one by hand under its policy', async () => {
      const { store } = await openTestStore(backend);
      const appId = await insertApp(store, 'manual');
      const apps = new Map([[appId, [every('slow', 'sleep 30', 'forbid')]]]);
      const clock = new TestClock();
      const { worker: w, cron } = await worker(store, clock, apps, []);
      w.start();
      await w.tick();
      const schedule = await cron.schedule(appId, 'slow');
      const run = await w.runNow(schedule);
      assert.equal(run.status, 'running');
      assert.equal(run.trigger, 'manual');
      const again = await w.runNow(schedule);
      assert.equal(again.status, 'skipped');
      await w.stop();
    });
  });
}
