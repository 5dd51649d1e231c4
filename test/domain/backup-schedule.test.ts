// Backup schedules: named ones, cron fields with and without seconds, ranges, lists, steps,
// cron's either-day rule, and the refusals, each with the next times they name (UTC).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackupSchedule, validateRetain } from '../../src/domain/addons/backup-schedule.js';

const at = (iso: string) => new Date(iso);
const nexts = (expression: string, from: string, count: number): string[] => {
  const schedule = parseBackupSchedule(expression);
  const out: string[] = [];
  let now = at(from);
  for (let i = 0; i < count; i++) {
    now = schedule.next(now);
    out.push(now.toISOString());
  }
  return out;
};

describe('backup schedules', () => {
  it('names the times of hourly, daily and weekly', () => {
    assert.deepEqual(nexts('hourly', '2026-12-03T12:34:56Z', 2), [
      '2026-12-03T13:00:00.000Z',
      '2026-12-03T14:00:00.000Z',
    ]);
    assert.deepEqual(nexts('daily', '2026-12-03T03:00:00Z', 2), [
      '2026-12-04T03:00:00.000Z',
      '2026-12-05T03:00:00.000Z',
    ]);
    assert.deepEqual(nexts('weekly', '2026-12-03T00:00:00Z', 1), ['2026-12-06T03:00:00.000Z']);
  });

  it('reads five fields, six with seconds, ranges, lists and steps', () => {
    assert.deepEqual(nexts('30 2 * * *', '2026-12-31T02:30:00Z', 2), [
      '2027-01-01T02:30:00.000Z',
      '2027-01-02T02:30:00.000Z',
    ]);
    assert.deepEqual(nexts('*/20 * * * * *', '2026-12-03T12:00:05Z', 3), [
      '2026-12-03T12:00:20.000Z',
      '2026-12-03T12:00:40.000Z',
      '2026-12-03T12:01:00.000Z',
    ]);
    assert.deepEqual(nexts('0 9-10,17 * * 1-5', '2026-12-04T17:00:00Z', 2), [
      '2026-12-07T09:00:00.000Z',
      '2026-12-07T10:00:00.000Z',
    ]);
    assert.deepEqual(nexts('0 0 29 2 *', '2026-03-01T00:00:00Z', 1), ['2028-02-29T00:00:00.000Z']);
  });

  it("follows cron's rule for two restricted day fields: either one", () => {
    // The 13th, or any Friday.
    assert.deepEqual(nexts('0 0 13 * 5', '2026-12-01T00:00:00Z', 3), [
      '2026-12-04T00:00:00.000Z',
      '2026-12-11T00:00:00.000Z',
      '2026-12-13T00:00:00.000Z',
    ]);
  });

  it('refuses what it cannot read, saying how to write one', () => {
    for (const [expression, why] of [
      ['sometimes', /has 1 field\(s\)/],
      ['61 * * * *', /'61' out of 0–59 in its minute field/],
      ['* * * * * * *', /has 7 field\(s\)/],
      ['*/0 * * * *', /out of/],
      ['0 0 31 2 *', /names no time in the next ten years/],
      ['a b c d e', /has 'a' in its minute field/],
    ] as const) {
      assert.throws(() => parseBackupSchedule(expression).next(at('2026-01-01T00:00:00Z')), why);
    }
    assert.throws(() => validateRetain(0), /from 1 to 100/);
    assert.throws(() => validateRetain(2.5), /from 1 to 100/);
    assert.equal(validateRetain(7), 7);
  });
});
