// A claimed task's handle aborts its signal when the task must stop (a cancel request, a lost
// lease, the controller stopping), and an aborted task's finished event says why, on both stores.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeploymentsService,
  deploymentsState,
  TaskAborted,
  type DeploymentEvent,
} from '../../../src/domain/deployments/index.js';
import { backends, type Backend } from '../../support/databases.js';
import { insertApp, openTestStore } from '../../support/stores.js';
import { compiledDefaults } from '../../support/compiled-defaults.js';

const OWNER = 'controller-a';

async function setUp(backend: Backend, leaseMs = 60_000) {
  const { store } = await openTestStore(backend);
  const deployments = new DeploymentsService({
    state: deploymentsState(store),
    maxEventBytes: compiledDefaults.deployLogLimitBytes,
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
  const handle = deployments.openTask(task.id, OWNER, { steps: ['build', 'finalize'], leaseMs });
  return { store, deployments, appId, id: task.id, handle };
}

async function eventsOf(deployments: DeploymentsService, appId: string, id: string) {
  return (await deployments.events(appId, id)).events;
}

/**
 * Waits for `signal` to abort, at most `ms`. The handle's heartbeat timer does not keep the
 * process alive, so the wait holds a timer of its own.
 */
async function abortOf(signal: AbortSignal, ms: number): Promise<void> {
  const stop = new AbortController();
  const aborted = new Promise((resolve) => signal.addEventListener('abort', resolve));
  await Promise.race([aborted, sleep(ms, undefined, { signal: stop.signal }).catch(() => {})]);
  stop.abort();
}

/** The events a follower sees at the end: the step's end, then the task's. */
const ending = (events: readonly DeploymentEvent[]) =>
  events.slice(-2).map((e) => ({
    kind: e.kind,
    step: e.step,
    ...(e.kind === 'step-finished' ? { status: e.status } : {}),
    ...(e.kind === 'finished' ? { status: e.status, error: e.error } : {}),
  }));

for (const backend of backends) {
  describe(`aborting a deployment task on ${backend}`, () => {
    it('a cancel request aborts the signal at the next heartbeat; the task ends cancelled', async () => {
      const { deployments, appId, id, handle } = await setUp(backend, 300);
      await handle.startStep('build');
      assert.equal(handle.signal.aborted, false);
      const asked = Date.now();
      assert.equal(await deployments.cancel(appId, id), 'requested');
      // No write in between: the heartbeat (every lease/3) finds the request.
      await abortOf(handle.signal, 2000);
      const tookMs = Date.now() - asked;
      assert.ok(tookMs < 300, `aborted ${tookMs} ms after the request`);
      assert.ok(handle.signal.reason instanceof TaskAborted);
      assert.equal(handle.abortReason, 'cancelled');

      assert.equal(await handle.finishAborted({ releaseVersion: null }), true);
      assert.deepEqual(ending(await eventsOf(deployments, appId, id)), [
        { kind: 'step-finished', step: 'build', status: 'cancelled' },
        { kind: 'finished', step: null, status: 'cancelled', error: 'cancelled during build' },
      ]);
      const record = await deployments.get(appId, id);
      assert.equal(record.status, 'cancelled');
      assert.deepEqual(
        record.steps.map((s) => [s.name, s.status]),
        [
          ['build', 'cancelled'],
          ['finalize', 'skipped'],
        ],
      );
      console.log(`${backend}: a cancel aborted the running task in ${tookMs} ms`);
    });

    it('the holder aborts it when its controller stops; the task ends failed, saying so', async () => {
      const { deployments, appId, id, handle } = await setUp(backend);
      await handle.startStep('build');
      handle.log('compiling');
      handle.abort('stopping');
      handle.abort('cancelled');
      assert.equal(handle.abortReason, 'stopping', 'the first reason stays');
      assert.equal(await handle.finishAborted(), true);
      const events = await eventsOf(deployments, appId, id);
      assert.ok(events.some((e) => e.kind === 'line' && e.text === 'compiling'));
      assert.deepEqual(ending(events), [
        { kind: 'step-finished', step: 'build', status: 'failed' },
        {
          kind: 'finished',
          step: null,
          status: 'failed',
          error: 'controller stopped during build',
        },
      ]);
      assert.equal((await deployments.get(appId, id)).status, 'failed');
    });

    it('a lost lease aborts the signal at the next write, and the handle writes no more', async () => {
      const { store, deployments, appId, id, handle } = await setUp(backend);
      await handle.startStep('build');
      const later = new DeploymentsService({
        state: deploymentsState(store),
        maxEventBytes: compiledDefaults.deployLogLimitBytes,
        clock: () => new Date(Date.now() + 3_600_000),
      });
      assert.deepEqual(await later.failAbandoned(), [id]);
      const swept = await eventsOf(deployments, appId, id);
      handle.log('too late');
      await handle.flush();
      assert.equal(handle.abortReason, 'lease-lost');
      assert.equal(await handle.finishAborted(), false);
      assert.deepEqual(await eventsOf(deployments, appId, id), swept);
      assert.deepEqual(ending(swept).at(-1), {
        kind: 'finished',
        step: null,
        status: 'failed',
        error: 'controller stopped during build',
      });
    });

    it('a task that was not aborted cannot be finished as one', async () => {
      const { handle } = await setUp(backend);
      await assert.rejects(handle.finishAborted(), /was not aborted/);
      handle.close();
    });
  });
}
