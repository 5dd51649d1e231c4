import { InputError } from '../errors/index.js';

/** Parses `start` and `count` of a listing, with precise errors for values out of range. */
export function pageOf(
  query: { start?: string; count?: string },
  maxCount = 500,
): { start: number; count: number } {
  const start = query.start === undefined ? 0 : Number(query.start);
  const count = query.count === undefined ? 20 : Number(query.count);
  if (start < 0) throw new InputError(`start must be 0 or more, got ${start}`);
  if (count < 0 || count > maxCount)
    throw new InputError(`count must be from 0 to ${maxCount}, got ${count}`);
  return { start, count };
}
