// Runs apps' cron schedules as one-offs of their live release: once per slot across
// controllers, under each schedule's concurrency policy, with at most one catch-up.
export {
  CronWorker,
  type CronExecutor,
  type CronSources,
  type CronWorkerOptions,
} from './cron-worker.js';
