// Waiting in tests: for a condition, or for a unit to listen.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkHealth, type UnitStatus } from '../../../src/runtime/index.js';

/**
 * Polls `probe` until it returns a value, or fails after `timeoutMs`: a bound for a loaded
 * machine (a container engine restarting a unit three times takes seconds there), not a
 * measure of speed.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits until a unit answers TCP on its address. */
export async function waitUntilListening(unit: UnitStatus): Promise<void> {
  const health = await checkHealth({
    ...unit.address,
    timeoutMs: 500,
    attempts: 100,
    intervalMs: 30,
  });
  assert.ok(health.ok, `unit ${unit.id} does not listen: ${health.ok ? '' : health.reason}`);
}
