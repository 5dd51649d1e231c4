import { createHash } from 'node:crypto';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';
import { parseAppSchedule } from '../../domain/schedules/index.js';
import { BerthError } from '../../errors/index.js';
import { jsonPath } from './json-shape.js';
import { MAX_COMMAND_LENGTH } from './process-rules.js';
import { CONCURRENCY_POLICIES, type ConcurrencyPolicy, type CronEntry } from './model.js';

/** At most this many cron entries per file. */
export const CRON_MAX_ENTRIES = 50;

/** An entry's id: given (`id`), or made from its command. */
export const CRON_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

const FIELDS = ['id', 'command', 'schedule', 'concurrency_policy', 'maintenance'] as const;

/** What differs between the files: their error reason and how each treats unknown fields. */
export interface CronFile {
  readonly name: 'app.json' | 'berth.json';
  /** Called with the unknown keys of one entry and its JSON path segments. */
  readonly unknown: (
    object: Record<string, unknown>,
    known: readonly string[],
    at: readonly string[],
  ) => void;
}

/** The id of an entry that names none: stable while its command stays, so suspension is kept. */
export function cronIdOf(command: string): string {
  return `c-${createHash('sha256').update(command).digest('hex').slice(0, 10)}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Parses a manifest's `cron`: `[{command, schedule, concurrency_policy?, maintenance?, id?}]`,
 * Dokku's format. Every schedule is parsed (five fields or a macro, UTC), so a bad one is
 * refused at upload with its JSON path (`cron[1].schedule`). Throws BundleError
 * APP_JSON_SCHEMA or BERTH_JSON_SCHEMA.
 */
export function parseCron(value: unknown, file: CronFile): CronEntry[] {
  const reason =
    file.name === 'app.json'
      ? BundleErrorReasons.APP_JSON_SCHEMA
      : BundleErrorReasons.BERTH_JSON_SCHEMA;
  const fail = (message: string) => new BundleError(reason, `${file.name}: ${message}`);
  if (!Array.isArray(value)) throw fail(`cron must be an array; got ${describe(value)}`);
  if (value.length > CRON_MAX_ENTRIES) {
    throw fail(`cron may list at most ${CRON_MAX_ENTRIES} entries; it lists ${value.length}`);
  }
  const entries: CronEntry[] = [];
  for (const [index, item] of (value as unknown[]).entries()) {
    const at = `cron[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw fail(`${at} must be an object; got ${describe(item)}`);
    }
    const entry = item as Record<string, unknown>;
    file.unknown(entry, FIELDS, [at]);
    const command = entry['command'];
    if (typeof command !== 'string' || command.trim() === '') {
      throw fail(
        `${jsonPath([at, 'command'])} must be a non-empty string; got ${describe(command)}`,
      );
    }
    if (command.length > MAX_COMMAND_LENGTH || command.includes('\0')) {
      throw fail(
        `${jsonPath([at, 'command'])} must have at most ${MAX_COMMAND_LENGTH} characters and no NUL byte`,
      );
    }
    const schedule = entry['schedule'];
    if (typeof schedule !== 'string') {
      throw fail(`${jsonPath([at, 'schedule'])} must be a string; got ${describe(schedule)}`);
    }
    try {
      parseAppSchedule(schedule.trim());
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      throw fail(`${jsonPath([at, 'schedule'])}: ${error.message}`);
    }
    const policy = entry['concurrency_policy'] ?? 'allow';
    if (
      typeof policy !== 'string' ||
      !(CONCURRENCY_POLICIES as readonly string[]).includes(policy)
    ) {
      throw fail(
        `${jsonPath([at, 'concurrency_policy'])} must be one of ${CONCURRENCY_POLICIES.join(', ')}; got ${typeof policy === 'string' ? quote(policy.slice(0, 40)) : describe(policy)}`,
      );
    }
    const maintenance = entry['maintenance'] ?? false;
    if (typeof maintenance !== 'boolean') {
      throw fail(
        `${jsonPath([at, 'maintenance'])} must be a boolean; got ${describe(maintenance)}`,
      );
    }
    const id = entry['id'] ?? cronIdOf(command);
    if (typeof id !== 'string' || !CRON_ID_PATTERN.test(id)) {
      throw fail(
        `${jsonPath([at, 'id'])} must match ${CRON_ID_PATTERN.source}; got ${typeof id === 'string' ? quote(id.slice(0, 60)) : describe(id)}`,
      );
    }
    if (entries.some((other) => other.id === id)) {
      throw fail(
        `${at} repeats the id ${quote(id)} (an entry without an id is named by its command)`,
      );
    }
    entries.push({
      id,
      command,
      schedule: schedule.trim(),
      concurrencyPolicy: policy as ConcurrencyPolicy,
      maintenance,
    });
  }
  return entries;
}

/** berth.json wins per id: its entries, then app.json's of other ids. */
export function mergeCron(
  berth: readonly CronEntry[] | undefined,
  app: readonly CronEntry[] | undefined,
): CronEntry[] {
  const merged = [...(berth ?? [])];
  for (const entry of app ?? []) {
    if (!merged.some((other) => other.id === entry.id)) merged.push(entry);
  }
  return merged;
}
