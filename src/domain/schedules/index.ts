// Schedules: cron expressions parsed once and asked for their next time, in UTC. Shared by
// apps' cron entries and add-on backup schedules, each with its own aliases.
export {
  APP_CRON,
  parseAppSchedule,
  parseCronExpression,
  STANDARD_MACROS,
  type CronDialect,
  type CronSchedule,
} from './cron-expression.js';
