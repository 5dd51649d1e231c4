// docs/operations.md is where an operator looks a flag up: every flag `berth help` (or a
// command's own --help) prints must be described there, so the two cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runBerth } from '../support/server-process.js';

const OPERATIONS = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

/** The `--flag` names in a help text. */
function flagsOf(help: string): string[] {
  return [...new Set([...help.matchAll(/(?<![\w-])--[a-z][a-z-]*[a-z]/g)].map((m) => m[0]))];
}

describe('docs/operations.md', () => {
  for (const args of [['help'], ['server', '--help'], ['router', '--help'], ['down', '--help']]) {
    it(`describes every flag of berth ${args.join(' ')}`, async () => {
      const result = await runBerth(args);
      assert.equal(result.code, 0, result.stderr);
      const flags = flagsOf(result.stdout).filter((flag) => flag !== '--help');
      assert.ok(flags.length > 0, 'the help lists no flags');
      const missing = flags.filter(
        (flag) => !OPERATIONS.includes(`\`${flag}`) && !OPERATIONS.includes(`[${flag}`),
      );
      assert.deepEqual(missing, []);
    });
  }

  it('promises no runtime or router the server refuses', () => {
    assert.doesNotMatch(OPERATIONS, /only `process` in this version|\(not yet used\)/);
  });
});
