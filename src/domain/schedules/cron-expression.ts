import { InputError } from '../../errors/index.js';

/** A parsed cron expression: the times it names, in UTC. */
export interface CronSchedule {
  /** As given. */
  readonly expression: string;
  /** The first time after `after` (exclusive) that the schedule names, to the second. */
  next(after: Date): Date;
}

/** How one user of cron reads expressions: its aliases, whether a seconds field is allowed. */
export interface CronDialect {
  /** Named schedules (`hourly`, `@daily`), each standing for cron fields. */
  readonly aliases: Readonly<Record<string, string>>;
  /** Six fields with seconds first are allowed besides the standard five. */
  readonly seconds: boolean;
  /** How the refusal's message says what is allowed, e.g. `use @daily or 5 fields …`. */
  readonly hint: string;
}

/** The macros of Vixie cron and Dokku: `@yearly` … `@hourly`, at minute 0 UTC. */
export const STANDARD_MACROS: Readonly<Record<string, string>> = Object.freeze({
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
});

/** second minute hour day-of-month month day-of-week, each field's bounds and names. */
const FIELDS = [
  { name: 'second', min: 0, max: 59, names: [] },
  { name: 'minute', min: 0, max: 59, names: [] },
  { name: 'hour', min: 0, max: 23, names: [] },
  { name: 'day of month', min: 1, max: 31, names: [] },
  {
    name: 'month',
    min: 1,
    max: 12,
    // Index + 1 is the month's number.
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  // Index is the weekday's number (Sunday 0; 7 is Sunday too).
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
] as const;

type Field = (typeof FIELDS)[number];

function invalid(expression: string, why: string, dialect: CronDialect): InputError {
  return new InputError(`schedule '${expression.slice(0, 100)}' ${why}; ${dialect.hint}`);
}

/** A number or (in the month and weekday fields) a three-letter name. */
function valueOf(text: string, field: Field): number {
  if (/^\d+$/.test(text)) return Number(text);
  const index = (field.names as readonly string[]).indexOf(text.toLowerCase());
  if (index < 0) return Number.NaN;
  return field.name === 'month' ? index + 1 : index;
}

/** One field's allowed values: `*`, `n`, `a-b`, names, lists and `/step` on either. */
function parseField(text: string, field: Field, expression: string, dialect: CronDialect) {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:\/(\d+))?$/i.exec(part);
    if (!match) {
      throw invalid(expression, `has '${part.slice(0, 20)}' in its ${field.name} field`, dialect);
    }
    const [, range = '*', stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    let from: number = field.min;
    let to: number = field.max;
    if (range !== '*') {
      const [a = '', b] = range.split('-');
      from = valueOf(a, field);
      // `n/step` is `n-max/step`, as in Vixie cron's and Dokku's parsers.
      to = b === undefined ? (stepText === undefined ? from : field.max) : valueOf(b, field);
    }
    if (
      Number.isNaN(from) ||
      Number.isNaN(to) ||
      step < 1 ||
      from < field.min ||
      to > field.max ||
      from > to
    ) {
      throw invalid(
        expression,
        `has '${part.slice(0, 20)}' out of ${field.min}–${field.max} in its ${field.name} field`,
        dialect,
      );
    }
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

/**
 * Parses a cron expression: an alias of the dialect, or five fields (`minute hour
 * day-of-month month day-of-week`), or six with seconds first where the dialect allows them.
 * Month and weekday names (`jan`, `mon-fri`) are allowed. When both day fields are restricted,
 * a day matching either is due (cron's rule). InputError for anything else, and for an
 * expression that names no time within ten years (`0 0 30 2 *`).
 */
export function parseCronExpression(expression: string, dialect: CronDialect): CronSchedule {
  const text = dialect.aliases[expression] ?? expression;
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5 && !(dialect.seconds && parts.length === 6)) {
    throw invalid(expression, `has ${parts.length} field(s)`, dialect);
  }
  const fields = parts.length === 5 ? ['0', ...parts] : parts;
  const [seconds, minutes, hours, days, months, weekdays] = FIELDS.map((field, i) =>
    parseField(fields[i] ?? '*', field, expression, dialect),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);
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
  const next = (after: Date): Date => {
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
    throw invalid(expression, 'names no time in the next ten years', dialect);
  };
  // A schedule that never comes is refused now, not at its first run.
  next(new Date(Date.UTC(2000, 0, 1)));
  return { expression, next };
}

/** App cron (app.json and berth.json `cron`): five fields or a macro, in UTC, as Dokku reads. */
export const APP_CRON: CronDialect = Object.freeze({
  aliases: STANDARD_MACROS,
  seconds: false,
  hint:
    'use five cron fields "minute hour day-of-month month day-of-week" in UTC ' +
    '(e.g. "*/5 * * * *") or @hourly, @daily, @weekly, @monthly, @yearly',
});

/** Parses an app's cron schedule (APP_CRON). */
export function parseAppSchedule(expression: string): CronSchedule {
  return parseCronExpression(expression, APP_CRON);
}
