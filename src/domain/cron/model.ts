/**
 * What a schedule does when its slot comes while a run of it still goes on: run alongside
 * (`allow`), skip the slot (`forbid`), or stop the running one and start (`replace`).
 */
export const ConcurrencyPolicies = Object.freeze(['allow', 'forbid', 'replace'] as const);
export type ConcurrencyPolicy = (typeof ConcurrencyPolicies)[number];

/** What became of a run. */
export const CronRunStatuses = Object.freeze({
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  /** Its slot came while another run went on, under `forbid`: not run, recorded. */
  skipped: 'skipped',
  /** Stopped by a newer run under `replace`, or by hand. */
  stopped: 'stopped',
} as const);
export type CronRunStatus = (typeof CronRunStatuses)[keyof typeof CronRunStatuses];

/** Why a run started. */
export const CronTriggers = Object.freeze({
  schedule: 'schedule',
  /** The one run of the latest slot when earlier ones were missed (a controller was down). */
  catchUp: 'catch-up',
  manual: 'manual',
} as const);
export type CronTrigger = (typeof CronTriggers)[keyof typeof CronTriggers];

/** An app's scheduled command, as its live release's manifests declare it. */
export interface CronSchedule {
  readonly appId: string;
  readonly id: string;
  readonly command: string;
  /** Five cron fields or a macro, UTC. */
  readonly schedule: string;
  readonly concurrencyPolicy: ConcurrencyPolicy;
  /** Dokku's meaning: kept and listed, never run on its schedule. */
  readonly maintenance: boolean;
  /** Suspended by hand (`berth cron suspend`): not run on its schedule until resumed. */
  readonly suspended: boolean;
  /** The release whose manifests declared it. */
  readonly release: number;
  /** When the schedule took effect (declared, changed, resumed): slots come after it. */
  readonly since: string;
  readonly updatedAt: string;
}

/** A schedule as a manifest gives it, without the state the store keeps. */
export type CronScheduleSpec = Pick<
  CronSchedule,
  'id' | 'command' | 'schedule' | 'concurrencyPolicy' | 'maintenance'
>;

/** One run of a schedule. */
export interface CronRun {
  readonly id: string;
  readonly appId: string;
  readonly scheduleId: string;
  /** The slot it ran for (ISO-8601); null for a run by hand. */
  readonly slot: string | null;
  readonly trigger: CronTrigger;
  readonly status: CronRunStatus;
  readonly command: string;
  /** The release it ran, once known. */
  readonly release: number | null;
  readonly stopRequested: boolean;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The last CRON_OUTPUT_TAIL_BYTES of its output. */
  readonly output: string;
  /** Why it failed or was skipped, when not its exit code. */
  readonly error: string | null;
}

/** How much of a run's output is kept: its tail. */
export const CRON_OUTPUT_TAIL_BYTES = 16 * 1024;

/** Runs kept per schedule; older ones are pruned. */
export const CRON_RUNS_KEPT = 100;
