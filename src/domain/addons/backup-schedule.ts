import { ErrorCodes, InputError } from '../../errors/index.js';

/** When an add-on is backed up by itself: a cron expression, in UTC. */
export interface BackupSchedule {
  /** As given: `hourly`, `daily`, or five or six cron fields. */
  readonly expression: string;
  /** The first time after `after` (exclusive) that the schedule names, to the second. */
  next(after: Date): Date;
}

/** Named schedules. */
const ALIASES: Readonly<Record<string, string>> = Object.freeze({
  hourly: '0 0 * * * *',
  daily: '0 0 3 * * *',
  weekly: '0 0 3 * * 0',
});

/** second minute hour day-of-month month day-of-week, each field's bounds. */
const FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

function invalid(expression: string, why: string): InputError {
  return new InputError(
    `schedule '${expression.slice(0, 100)}' ${why}; use hourly, daily, weekly, or cron fields ` +
      `"[second] minute hour day-of-month month day-of-week" in UTC, e.g. "30 2 * * *"`,
  );
}

/** One field's allowed values: `*`, `n`, `a-b`, lists and `/step` on either. */
function parseField(text: string, field: (typeof FIELDS)[number], expression: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw invalid(expression, `has '${part.slice(0, 20)}' in its ${field.name} field`);
    const [, range = '*', stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    let from: number = field.min;
    let to: number = field.max;
    if (range !== '*') {
      const [a = '', b] = range.split('-');
      from = Number(a);
      to = b === undefined ? (stepText === undefined ? from : field.max) : Number(b);
    }
    if (step < 1 || from < field.min || to > field.max || from > to) {
      throw invalid(
        expression,
        `has '${part}' out of ${field.min}–${field.max} in its ${field.name} field`,
      );
    }
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

/**
 * Parses a schedule: `hourly`, `daily` (03:00 UTC), `weekly`, or cron fields (five, or six
 * with seconds first). InputError for anything else.
 */
export function parseBackupSchedule(expression: string): BackupSchedule {
  const text = ALIASES[expression] ?? expression;
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw invalid(expression, `has ${parts.length} field(s)`);
  }
  const fields = parts.length === 5 ? ['0', ...parts] : parts;
  const [seconds, minutes, hours, days, months, weekdays] = FIELDS.map((field, i) =>
    parseField(fields[i] ?? '*', field, expression),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);
  // Cron's rule: when both day fields are restricted, a day matching either one is due.
  const anyDay = fields[3] === '*';
  const anyWeekday = fields[5] === '*';
  const dayMatches = (at: Date): boolean => {
    const byDay = days.has(at.getUTCDate());
    const byWeekday = weekdays.has(at.getUTCDay());
    if (anyDay && anyWeekday) return true;
    if (anyDay) return byWeekday;
    if (anyWeekday) return byDay;
    return byDay || byWeekday;
  };
  return {
    expression,
    next(after: Date): Date {
      const at = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
      // Each step moves at least to the next candidate of one field; ten years of them bound it.
      for (let steps = 0; steps < 500_000; steps++) {
        if (!months.has(at.getUTCMonth() + 1)) {
          at.setUTCMonth(at.getUTCMonth() + 1, 1);
          at.setUTCHours(0, 0, 0);
          continue;
        }
        if (!dayMatches(at)) {
          at.setUTCDate(at.getUTCDate() + 1);
          at.setUTCHours(0, 0, 0);
          continue;
        }
        if (!hours.has(at.getUTCHours())) {
          at.setUTCHours(at.getUTCHours() + 1, 0, 0);
          continue;
        }
        if (!minutes.has(at.getUTCMinutes())) {
          at.setUTCMinutes(at.getUTCMinutes() + 1, 0);
          continue;
        }
        if (!seconds.has(at.getUTCSeconds())) {
          at.setUTCSeconds(at.getUTCSeconds() + 1);
          continue;
        }
        return at;
      }
      throw invalid(expression, 'names no time in the next ten years');
    },
  };
}

/** Backups a schedule keeps: the newest succeeded ones, 1 to 100. */
export function validateRetain(retain: unknown): number {
  if (typeof retain !== 'number' || !Number.isInteger(retain) || retain < 1 || retain > 100) {
    throw new InputError(
      `retain must be a whole number of backups from 1 to 100; got ${String(retain).slice(0, 20)}`,
      ErrorCodes.INVALID_INPUT,
    );
  }
  return retain;
}
