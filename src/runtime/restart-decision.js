// @ts-check
// The restart policy of units, decided in one place for every runtime: the process runtime's
// supervisor (plain JavaScript, which imports this file as it is) and the container driver.
// Pure: given the policy, the exits in a row so far and how long the run lasted, it says
// whether to restart and after how long, or to give up, with the line the unit's log gets.

/**
 * @typedef {{
 *   maxRestarts: number; backoffMs: number; maxBackoffMs: number; resetAfterMs: number
 * }} RestartPolicyShape
 * @typedef {{ kind: 'restart'; delayMs: number; inRow: number; line: string }
 *   | { kind: 'give-up'; inRow: number; line: string }} RestartDecision
 */

/**
 * What to do after a unit exited on its own.
 * - A run that lasted `resetAfterMs` or more starts the count again: the unit had recovered.
 * - Below `maxRestarts` exits in a row: restart after `backoffMs` doubled per exit in a row,
 *   at most `maxBackoffMs`. `inRow` is the count of restarts in a row before this one, once
 *   reset: the caller counts one more when the restart happens.
 * - Else give up: the unit is `crashed` until someone stops or replaces it.
 * @param {RestartPolicyShape} policy
 * @param {number} consecutive restarts in a row before this exit
 * @param {number} ranMs how long the run that just ended lasted
 * @param {{ oom?: boolean }} [exit] whether the memory limit killed it
 * @returns {RestartDecision}
 */
export function decideRestart(policy, consecutive, ranMs, exit = {}) {
  const inRow = ranMs >= policy.resetAfterMs ? 0 : consecutive;
  if (inRow >= policy.maxRestarts) {
    const times = `exited ${inRow + 1} times in a row`;
    return {
      kind: 'give-up',
      inRow,
      line: exit.oom
        ? `crashed: out of memory, killed at its memory limit (${times}), not restarting`
        : `crashed: ${times}, not restarting`,
    };
  }
  const delayMs = Math.min(policy.backoffMs * 2 ** inRow, policy.maxBackoffMs);
  return {
    kind: 'restart',
    delayMs,
    inRow,
    line: `restarting in ${delayMs} ms`,
  };
}
