// The worker shape the deployer, the reconciler and router sync share: a lifecycle, a watcher
// that asks for a run, a fallback interval, and a rerun latch that folds asks into one run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { changeTopic, WatcherHub } from '../../src/changes/index.js';
import { silentLogger } from '../../src/logging/index.js';
import { CoalescingWorker } from '../../src/workers/watch-loop.js';

/** A worker whose runs are counted and each wait for `release()` while `hold` is set. */
function countingWorker(options: { intervalMs?: number; onInterval?: () => Promise<void> } = {}) {
  const counts = { runs: 0, overlapping: 0, active: 0, failures: 0 };
  let gate: { promise: Promise<void>; release: () => void } | undefined;
  const hold = () => {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    gate = { promise, release };
  };
  const worker = new CoalescingWorker({
    name: 'test worker',
    hub: new WatcherHub(),
    topics: [changeTopic('apps')],
    logger: silentLogger(),
    intervalMs: options.intervalMs ?? 60_000,
    async run() {
      counts.runs++;
      counts.active++;
      if (counts.active > 1) counts.overlapping++;
      try {
        await gate?.promise;
      } finally {
        counts.active--;
      }
    },
    ...(options.onInterval ? { onInterval: options.onInterval } : {}),
    onRunFailure: () => counts.failures++,
  });
  return {
    worker,
    counts,
    hold,
    release: () => {
      const current = gate;
      gate = undefined;
      current?.release();
    },
  };
}

describe('the coalescing worker shape', () => {
  it('runs once at the start (the first signal of the watcher) and folds asks during a run into one', async () => {
    const { worker, counts, hold, release } = countingWorker();
    hold();
    worker.start();
    assert.equal(worker.state, 'running');
    await sleep(20);
    assert.equal(counts.runs, 1, 'the initial signal');
    for (let i = 0; i < 10; i++) worker.poke();
    const asked = Array.from({ length: 10 }, () => worker.request());
    release();
    await Promise.all(asked);
    assert.equal(counts.runs, 2, 'the run in progress, then one for every ask');
    assert.equal(counts.overlapping, 0);
    assert.ok(worker.idle);
    await worker.request();
    assert.equal(counts.runs, 3, 'an ask when idle is a run of its own');
    await worker.stop();
    assert.equal(worker.state, 'stopped');
    worker.poke();
    await sleep(10);
    assert.equal(counts.runs, 3, 'a stopped worker is not poked into a run');
  });

  it('calls the fallback interval while running, and drains before it waits for its run', async () => {
    let intervals = 0;
    const { worker, counts } = countingWorker({
      intervalMs: 20,
      onInterval: () => {
        intervals++;
        return Promise.resolve();
      },
    });
    worker.start();
    await sleep(150);
    assert.ok(intervals >= 3, `${intervals} interval calls`);
    const states: string[] = [];
    await worker.stop(() => {
      states.push(worker.state);
      return Promise.resolve();
    });
    assert.deepEqual(states, ['stopping']);
    const after = intervals;
    await sleep(60);
    assert.equal(intervals, after, 'no interval after stop');
    assert.equal(counts.failures, 0);
  });

  it('without onInterval, the interval asks for a run; a failed run is told once', async () => {
    const worker = new CoalescingWorker({
      name: 'failing worker',
      hub: new WatcherHub(),
      topics: [changeTopic('apps')],
      logger: silentLogger(),
      intervalMs: 30,
      run: () => Promise.reject(new Error('no')),
      onRunFailure: (error) => failures.push((error as Error).message),
    });
    const failures: string[] = [];
    worker.start();
    await sleep(110);
    await worker.stop();
    // The initial signal and at least two intervals, each run failing once.
    assert.ok(failures.length >= 3, `${failures.length} failures`);
    assert.ok(failures.every((m) => m === 'no'));
    await assert.rejects(worker.request(), /no/);
  });
});
