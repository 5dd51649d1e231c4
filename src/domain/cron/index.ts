// Cron: apps' scheduled commands from their live release's manifests, the slots that are due
// (once per slot, at most one catch-up) and the record of each run. The cron worker runs them.
export {
  CronService,
  outputTail,
  type CronClaim,
  type CronRunEnd,
  type CronServiceOptions,
  type CronState,
  type DueSlot,
} from './service.js';
export {
  ConcurrencyPolicies,
  CRON_OUTPUT_TAIL_BYTES,
  CRON_RUNS_KEPT,
  CronRunStatuses,
  CronTriggers,
  type ConcurrencyPolicy,
  type CronRun,
  type CronRunStatus,
  type CronSchedule,
  type CronScheduleSpec,
  type CronTrigger,
} from './model.js';
export { cronState } from './state.js';
