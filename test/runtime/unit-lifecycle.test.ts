// The container driver's unit states and the moves between them, as a pure table: what each
// state may become, and what list() shows for each. The engine-backed cases (a stop during a
// backoff, a crashed unit adopted) are in container-driver.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LifecycleMoves,
  listedPhase,
  moveLifecycle,
  type LifecycleKind,
  type UnitLifecycle,
} from '../../src/runtime/container/index.js';

const timer = setTimeout(() => undefined, 0);
clearTimeout(timer);

/** One value of each state. */
const states: Readonly<Record<LifecycleKind, UnitLifecycle>> = {
  starting: { kind: 'starting' },
  up: { kind: 'up' },
  exited: { kind: 'exited', handled: Promise.resolve() },
  restarting: { kind: 'restarting', timer },
  'gave-up': { kind: 'gave-up' },
  stopping: { kind: 'stopping' },
  gone: { kind: 'gone' },
};
const kinds = Object.keys(states) as LifecycleKind[];

describe('a tracked container unit’s lifecycle', () => {
  it('allows exactly the moves of its table', () => {
    assert.deepEqual(
      Object.fromEntries(kinds.map((from) => [from, [...LifecycleMoves[from]].sort()])),
      {
        starting: ['exited', 'gone', 'stopping', 'up'],
        up: ['exited', 'stopping'],
        exited: ['gave-up', 'restarting', 'stopping', 'up'],
        restarting: ['gave-up', 'stopping', 'up'],
        'gave-up': ['stopping'],
        stopping: ['gone'],
        gone: [],
      },
    );
    for (const from of kinds) {
      for (const to of kinds) {
        const allowed = LifecycleMoves[from].includes(to);
        if (allowed) assert.equal(moveLifecycle(states[from], states[to]), states[to]);
        else
          assert.throws(() => moveLifecycle(states[from], states[to]), {
            name: 'IllegalLifecycleMove',
            message: `a unit cannot go from ${from} to ${to}`,
          });
      }
    }
  });

  it('walks a crash loop: up, exited, restarting, up again, then gives up, and is stopped', () => {
    const path: LifecycleKind[] = [
      'starting',
      'up',
      'exited',
      'restarting',
      'up',
      'exited',
      'gave-up',
      'stopping',
      'gone',
    ];
    let now = states.starting;
    for (const next of path.slice(1)) now = moveLifecycle(now, states[next]);
    assert.equal(now.kind, 'gone');
  });

  it('can be stopped from every running state, and a stop leads only to gone', () => {
    for (const from of kinds.filter((kind) => kind !== 'gone' && kind !== 'stopping')) {
      assert.ok(LifecycleMoves[from].includes('stopping'), `${from} can be stopped`);
    }
    assert.deepEqual(LifecycleMoves.stopping, ['gone']);
    assert.deepEqual(LifecycleMoves.gone, []);
    // A stopped unit is never restarted: no move from stopping leads back into the loop.
    assert.ok(!LifecycleMoves.stopping.includes('restarting'));
    assert.ok(!LifecycleMoves.stopping.includes('up'));
  });

  it('lists what the tracked state says first, else what the engine says', () => {
    assert.equal(listedPhase('stopping', false, 'running'), 'stopping');
    assert.equal(listedPhase('gave-up', true, 'exited'), 'crashed');
    assert.equal(listedPhase('restarting', false, 'exited'), 'restarting');
    assert.equal(listedPhase('restarting', false, 'running'), 'restarting');
    for (const kind of ['starting', 'up', 'exited'] as const) {
      assert.equal(listedPhase(kind, false, 'running'), 'running');
      assert.equal(listedPhase(kind, false, 'created'), 'starting');
      assert.equal(listedPhase(kind, false, 'exited'), 'restarting', `${kind}, exited`);
    }
    // Untracked: the saved state, else lost once its container does not run.
    assert.equal(listedPhase(undefined, true, 'exited'), 'crashed');
    assert.equal(listedPhase(undefined, false, 'running'), 'running');
    assert.equal(listedPhase(undefined, false, 'configured'), 'starting');
    assert.equal(listedPhase(undefined, false, 'exited'), 'lost');
  });
});
