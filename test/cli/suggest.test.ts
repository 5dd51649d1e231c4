// "Did you mean": the client's suggestions for a mistyped command, which dispatch can use for
// top-level commands as commander does for subcommands.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, similarNames } from '../../src/cli/client/index.js';

describe('did you mean', () => {
  const commands = ['login', 'apps', 'deploy', 'logs', 'config', 'scale', 'ps', 'releases'];

  it('finds the close names: a dropped letter, a swap, a typo', () => {
    assert.deepEqual(similarNames('lst', ['list', 'create', 'info', 'destroy']), ['list']);
    assert.deepEqual(similarNames('deplyo', commands), ['deploy']);
    assert.deepEqual(similarNames('confg', commands), ['config']);
    assert.deepEqual(similarNames('log', commands), ['logs']);
  });

  it('suggests nothing for a word like none of them', () => {
    assert.deepEqual(similarNames('xyzzy', commands), []);
    assert.equal(didYouMean('xyzzy', commands), '');
  });

  it('names several when they are equally close', () => {
    assert.equal(didYouMean('lgs', ['logs', 'legs']), ' (did you mean one of legs, logs?)');
    assert.equal(didYouMean('scal', commands), ' (did you mean scale?)');
  });
});
