// The shared cron parser as app cron reads it: standard five fields and macros in UTC, names,
// steps, cron's either-day rule, and refusals that say why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAppSchedule } from '../../src/domain/schedules/index.js';
import { InputError } from '../../src/errors/index.js';

const at = (iso: string) => new Date(iso);
const next = (expression: string, after: string) =>
  parseAppSchedule(expression).next(at(after)).toISOString();

describe('app cron expressions', () => {
  it('names every minute, steps, ranges and lists', () => {
    assert.equal(next('* * * * *', '2026-01-01T00:00:30Z'), '2026-01-01T00:01:00.000Z');
    assert.equal(next('*/15 * * * *', '2026-01-01T00:16:00Z'), '2026-01-01T00:30:00.000Z');
    assert.equal(next('5/20 * * * *', '2026-01-01T00:06:00Z'), '2026-01-01T00:25:00.000Z');
    assert.equal(next('0 9-17/4 * * *', '2026-01-01T10:00:00Z'), '2026-01-01T13:00:00.000Z');
    assert.equal(next('0,30 2 * * *', '2026-01-01T02:00:00Z'), '2026-01-01T02:30:00.000Z');
  });

  it('reads month and weekday names and 7 as Sunday', () => {
    // 2026-01-01 is a Thursday.
    assert.equal(next('0 8 * * mon-fri', '2026-01-02T09:00:00Z'), '2026-01-05T08:00:00.000Z');
    assert.equal(next('0 0 1 jun *', '2026-01-01T00:00:00Z'), '2026-06-01T00:00:00.000Z');
    assert.equal(next('0 0 * * 7', '2026-01-01T00:00:00Z'), '2026-01-04T00:00:00.000Z');
  });

  it('reads the macros, at minute 0 UTC', () => {
    assert.equal(next('@hourly', '2026-01-01T00:10:00Z'), '2026-01-01T01:00:00.000Z');
    assert.equal(next('@daily', '2026-01-01T00:10:00Z'), '2026-01-02T00:00:00.000Z');
    assert.equal(next('@weekly', '2026-01-01T00:10:00Z'), '2026-01-04T00:00:00.000Z');
    assert.equal(next('@monthly', '2026-01-01T00:10:00Z'), '2026-02-01T00:00:00.000Z');
    assert.equal(next('@yearly', '2026-01-01T00:10:00Z'), '2027-01-01T00:00:00.000Z');
  });

  it('takes a day matching either day field when both are restricted', () => {
    // The 13th, or any Friday: Friday 2026-01-02 comes first.
    assert.equal(next('0 0 13 * fri', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
  });

  it('refuses seconds, bad fields and schedules that never come, saying why', () => {
    for (const [expression, why] of [
      ['0 * * * * *', /has 6 field\(s\)/],
      ['61 * * * *', /'61' out of 0–59 in its minute field/],
      ['* * * foo *', /'foo' out of 1–12 in its month field/],
      ['*/0 * * * *', /out of 0–59/],
      ['0 0 30 2 *', /names no time in the next ten years/],
      ['hourly', /has 1 field/],
    ] as const) {
      assert.throws(
        () => parseAppSchedule(expression),
        (error) => error instanceof InputError && why.test(error.message),
        expression,
      );
    }
  });
});
