import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DeploymentsService,
  deploymentsState,
  type DeploymentEvent,
  type DeploymentTaskLimits,
} from '../../../src/domain/deployments/index.js';
import { backends, type Backend } from '../../support/databases.js';
import { streamFor } from '../../support/changes.js';
import { insertApp, openTestStore } from '../../support/stores.js';
import { compiledDefaults } from '../../support/compiled-defaults.js';

const OWNER = 'controller-a';

async function setUp(
  backend: Backend,
  taskLimits: Partial<DeploymentTaskLimits> = {},
  leaseMs = 60_000,
) {
  const { store } = await openTestStore(backend);
  const { maxEventBytes = compiledDefaults.deployLogLimitBytes, ...flush } = taskLimits;
  const deployments = new DeploymentsService({
    state: deploymentsState(store),
    maxEventBytes,
    flush,
  });
  const appId = await insertApp(store, `app${Math.random().toString(36).slice(2, 8)}`);
  const task = await deployments.enqueue({
    appId,
    appName: 'web',
    kind: 'deploy',
    source: { kind: 'bundle', ref: null, sha: null },
    options: { autoconfigure: false },
  });
  assert.ok(await deployments.claim(task.id, OWNER, leaseMs, 'build'));
  const statuses: { held: boolean; cancelRequested: boolean }[] = [];
  const handle = deployments.openTask(task.id, OWNER, {
    steps: ['build', 'finalize'],
    onStatus: (s) => statuses.push(s),
    leaseMs,
  });
  return { store, deployments, appId, id: task.id, handle, statuses };
}

/** Every event after `after`, read page by page as a reconnecting follower would. */
async function readAll(
  deployments: DeploymentsService,
  appId: string,
  id: string,
  after = 0,
  limit = 1000,
): Promise<DeploymentEvent[]> {
  const all: DeploymentEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await deployments.events(appId, id, { after: cursor, limit });
    if (page.events.length === 0) {
      assert.equal(page.next, cursor, 'an empty page keeps the cursor');
      return all;
    }
    all.push(...page.events);
    cursor = page.next;
  }
}

const linesOf = (events: readonly DeploymentEvent[]) =>
  events.flatMap((e) => (e.kind === 'line' ? [e.text] : []));

for (const backend of backends) {
  describe(`deployment events on ${backend}`, () => {
    it('keeps 20,000 lines, each once and in order, for pagers and reconnecting followers', async () => {
      const { deployments, appId, id, handle, statuses } = await setUp(backend);
      const started = Date.now();
      await handle.startStep('build');
      for (let i = 0; i < 20_000; i++) handle.log(`line ${i}`);
      handle.finishStep('build', 'succeeded');
      assert.equal(
        await handle.finish({ status: 'succeeded', error: null, releaseVersion: 1 }),
        true,
      );
      const wroteMs = Date.now() - started;

      const events = await readAll(deployments, appId, id);
      const expected = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
      assert.deepEqual(linesOf(events), expected);
      assert.deepEqual(
        events.filter((e) => e.kind !== 'line').map((e) => [e.kind, e.step]),
        [
          ['step-started', 'build'],
          ['step-finished', 'build'],
          ['finished', null],
        ],
      );
      const ids = events.map((e) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        'ids grow',
      );
      assert.ok(statuses.every((s) => s.held && !s.cancelRequested));

      // A follower that stopped after event 7,777 and comes back with its cursor.
      const cursor = events[7_776]?.id ?? 0;
      const resumed = await readAll(deployments, appId, id, cursor, 333);
      assert.deepEqual(resumed, events.slice(7_777));

      const record = await deployments.get(appId, id);
      assert.equal(record.status, 'succeeded');
      assert.deepEqual(
        record.steps.map((s) => [s.name, s.status]),
        [
          ['build', 'succeeded'],
          ['finalize', 'skipped'],
        ],
      );
      const log = await deployments.logOf(id);
      assert.match(log, /build: line 19999\n.* build: done\n$/);
      assert.ok(log.length <= 64 * 1024);
      console.log(`${backend}: wrote 20,000 lines in ${wroteMs} ms`);
    });

    it('trims the oldest lines past the byte limit and says how many went', async () => {
      const { deployments, appId, id, handle } = await setUp(backend, {
        maxEventBytes: 4096,
        flushLines: 50,
      });
      await handle.startStep('build');
      // A follower that read the start and then went away.
      const early = await deployments.events(appId, id, { after: 0 });
      for (let i = 0; i < 1000; i++) {
        handle.log(`line ${i}`);
        if (i % 100 === 99) await handle.flush();
      }
      handle.finishStep('build', 'succeeded');
      await handle.finish({ status: 'succeeded', error: null, releaseVersion: 1 });

      const events = await readAll(deployments, appId, id, early.next);
      const marker = events[0];
      assert.equal(marker?.kind, 'trimmed', 'the follower is told first, before what remains');
      assert.ok(marker.kind === 'trimmed');
      const kept = linesOf(events);
      assert.equal(marker.lines + kept.length, 1000, 'dropped + kept = every line');
      assert.deepEqual(
        kept,
        Array.from({ length: kept.length }, (_, i) => `line ${1000 - kept.length + i}`),
      );
      const stored = kept.reduce((n, text) => n + JSON.stringify({ text }).length, 0);
      assert.ok(stored <= 4096, `the limit is kept (${stored} bytes of line payloads)`);
      assert.ok(stored >= 2048, `trims go down to 3/4 of it, not further (${stored} bytes)`);
      assert.equal(events.at(-1)?.kind, 'finished');
    });

    it('follows live through the change stream, from a cursor, to the finished event', async () => {
      const { store, deployments, appId, id, handle } = await setUp(backend);
      const { stream, hub } = streamFor(store);
      await stream.start();
      await handle.startStep('build');
      handle.log('before the follower');
      await handle.flush();
      const first = await deployments.events(appId, id, { after: 0, limit: 1 });

      const seen: DeploymentEvent[] = [];
      const following = (async () => {
        for await (const page of deployments.follow(hub, appId, id, { after: first.next }))
          seen.push(...page.events);
      })();
      for (let i = 0; i < 2000; i++) {
        handle.log(`live ${i}`);
        if (i % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      handle.finishStep('build', 'succeeded');
      await handle.finish({ status: 'failed', error: 'it broke', releaseVersion: null });
      await following;
      assert.deepEqual(linesOf(seen), [
        'before the follower',
        ...Array.from({ length: 2000 }, (_, i) => `live ${i}`),
      ]);
      assert.deepEqual(seen.at(-1), { ...seen.at(-1), kind: 'finished', error: 'it broke' });
    });

    it('the handle renews its lease while the task runs, and stops at finish', async () => {
      const { deployments, appId, id, handle, statuses } = await setUp(backend, {}, 150);
      await handle.startStep('build');
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(await deployments.failAbandoned(), [], 'four lease periods later, held');
      assert.ok(statuses.length >= 4, `renewed (${statuses.length} statuses)`);
      handle.finishStep('build', 'succeeded');
      assert.equal(await handle.finish({ status: 'succeeded', error: null }), true);
      const after = statuses.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(statuses.length, after, 'no heartbeat after finish');
      assert.equal((await deployments.get(appId, id)).status, 'succeeded');
    });

    it('a task from before events keeps its text log, and a follower of it ends', async () => {
      const { store, deployments, appId, id, handle } = await setUp(backend);
      handle.close();
      // What migration 8 found: a finished task with its log as text and no events.
      await store.db.deleteFrom('deployment_events').where('deployment_id', '=', id).execute();
      await store.db.deleteFrom('deployment_leases').where('deployment_id', '=', id).execute();
      await store.db
        .updateTable('deployments')
        .set({ status: 'succeeded', log: '2026-01-01T00:00:00.000Z build: done\n' })
        .where('id', '=', id)
        .execute();
      assert.equal(await deployments.logOf(id), '2026-01-01T00:00:00.000Z build: done\n');
      const { stream, hub } = streamFor(store);
      await stream.start();
      const pages = [];
      for await (const page of deployments.follow(hub, appId, id)) pages.push(page);
      assert.deepEqual(pages, []);
    });

    it('a lapsed lease ends the task with a finished event; its holder learns it', async () => {
      const { store, deployments, appId, id, handle, statuses } = await setUp(backend);
      await handle.startStep('build');
      const later = new DeploymentsService({
        state: deploymentsState(store),
        maxEventBytes: compiledDefaults.deployLogLimitBytes,
        clock: () => new Date(Date.now() + 3_600_000),
      });
      assert.deepEqual(await later.failAbandoned(), [id]);
      const events = await readAll(deployments, appId, id);
      assert.deepEqual(
        events.slice(-2).map((e) => [e.kind, e.step]),
        [
          ['step-finished', 'build'],
          ['finished', null],
        ],
      );
      handle.log('too late');
      await handle.flush();
      assert.equal(statuses.at(-1)?.held, false);
      assert.equal((await readAll(deployments, appId, id)).length, events.length);
    });
  });
}
