import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRestart } from '../../src/runtime/restart-decision.js';

const policy = { maxRestarts: 3, backoffMs: 100, maxBackoffMs: 250, resetAfterMs: 10_000 };

describe('the restart policy both runtimes follow', () => {
  it('doubles the wait per exit in a row, up to its ceiling', () => {
    assert.deepEqual(
      [0, 1, 2].map((inRow) => decideRestart(policy, inRow, 50)),
      [
        { kind: 'restart', delayMs: 100, inRow: 0, line: 'restarting in 100 ms' },
        { kind: 'restart', delayMs: 200, inRow: 1, line: 'restarting in 200 ms' },
        { kind: 'restart', delayMs: 250, inRow: 2, line: 'restarting in 250 ms' },
      ],
    );
  });

  it('gives up after maxRestarts exits in a row, and says why when it was out of memory', () => {
    assert.deepEqual(decideRestart(policy, 3, 50), {
      kind: 'give-up',
      inRow: 3,
      line: 'crashed: exited 4 times in a row, not restarting',
    });
    assert.equal(
      decideRestart(policy, 3, 50, { oom: true }).line,
      'crashed: out of memory, killed at its memory limit (exited 4 times in a row), not restarting',
    );
  });

  it('counts again from zero after a run that lasted resetAfterMs', () => {
    assert.deepEqual(decideRestart(policy, 3, 10_000), {
      kind: 'restart',
      delayMs: 100,
      inRow: 0,
      line: 'restarting in 100 ms',
    });
  });
});
