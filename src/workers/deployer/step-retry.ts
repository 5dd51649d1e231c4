/**
 * How often a step that failed retryably runs again, and how long it waits between runs.
 * Compiled once by the composition root; tests pass small delays.
 */
export interface StepRetryPolicy {
  /** Runs of one step in all, the first included; 1 turns retries off. */
  readonly attempts: number;
  /** The wait before the second run; each later wait is four times the one before. */
  readonly baseDelayMs: number;
}

/**
 * The wait before run `attempt` (2 or more): with a 1 s base, 1 s then 4 s then 16 s. Four
 * times over is enough to outlast an engine restart or a registry's brief outage, and few
 * enough runs that a deploy that cannot succeed still fails within seconds, not minutes.
 */
export function retryDelayMs(policy: StepRetryPolicy, attempt: number): number {
  return policy.baseDelayMs * 4 ** Math.max(0, attempt - 2);
}

/** A delay as a person reads it in a log line: `250 ms`, `4 s`, `1.5 s`. */
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}
