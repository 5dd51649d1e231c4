import { InputError } from '../../errors/index.js';
import { PROCESS_TYPE_PATTERN } from '../process-configs/index.js';
import type { ReleaseInput } from './model.js';
import type { ProcessCommand, ProcessCommands } from './process-command.js';

/** The limits on what a release holds; the API may quote them. */
export const ReleaseLimits = Object.freeze({
  maxProcessTypes: 30,
  /** Bytes of one process command in UTF-8. */
  maxCommandBytes: 32 * 1024,
  /** Characters of a description. */
  maxDescriptionLength: 1024,
});

/** The parts of a release that rollbacks and config changes copy from one to the next. */
export interface ReleaseContent {
  readonly artifactId: string | null;
  readonly stack: string | null;
  readonly processes: ProcessCommands;
  readonly formation: Readonly<Record<string, number>>;
}

/** Names are not secret, but a hostile one may be long or hold control characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function processTypes(what: string, value: unknown): [string, unknown][] {
  if (!isPlainObject(value)) throw new InputError(`a release's ${what} must be an object`);
  const entries = Object.entries(value);
  if (entries.length > ReleaseLimits.maxProcessTypes) {
    throw new InputError(
      `a release's ${what} names ${entries.length} process types; at most ` +
        `${ReleaseLimits.maxProcessTypes} are allowed`,
    );
  }
  for (const [type] of entries) {
    if (!PROCESS_TYPE_PATTERN.test(type)) {
      throw new InputError(
        `process type ${quote(type)} in a release's ${what} is not allowed: a process type ` +
          `starts with a lowercase letter, holds only lowercase letters, digits and '-', and ` +
          `has at most 30 characters`,
      );
    }
  }
  return entries;
}

function optionalName(what: string, value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new InputError(`a release's ${what} must be null or a string of 1 to 256 characters`);
  }
  return value;
}

/**
 * One process of a new release, checked and copied: `{kind: 'command', line}` with a
 * non-empty line within the limits, or `{kind: 'static'}` / `{kind: 'image'}`. Fields beyond
 * those are dropped, so what the store keeps is exactly the union.
 */
function validCommand(type: string, command: unknown): ProcessCommand {
  if (!isPlainObject(command)) {
    throw new InputError(`the process ${quote(type)} of a release must be an object with a kind`);
  }
  switch (command['kind']) {
    case 'static':
      return { kind: 'static' };
    case 'image':
      return { kind: 'image' };
    case 'command':
      break;
    default:
      throw new InputError(
        `the process ${quote(type)} of a release has kind ${quote(String(command['kind']))}; ` +
          `it must be 'command', 'static' or 'image'`,
      );
  }
  const line = command['line'];
  if (typeof line !== 'string' || line.trim() === '') {
    throw new InputError(`the command of process type ${quote(type)} must be a non-empty string`);
  }
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > ReleaseLimits.maxCommandBytes) {
    throw new InputError(
      `the command of process type ${quote(type)} is ${bytes} bytes; at most ` +
        `${ReleaseLimits.maxCommandBytes} are allowed`,
    );
  }
  if (line.includes('\0')) {
    throw new InputError(`the command of process type ${quote(type)} holds a NUL character`);
  }
  return { kind: 'command', line };
}

/** A new release's parts once checked: all but its number, id, time and config. */
export interface ValidRelease extends ReleaseContent {
  readonly description: string;
  readonly deploymentId: string | null;
}

/** Checks what a new release is made of; throws InputError naming the offending part. */
export function validateReleaseInput(input: ReleaseInput): ValidRelease {
  const processes = processTypes('processes', input.processes);
  const commands = processes.map(([type, command]) => [type, validCommand(type, command)]);
  const formation = processTypes('formation', input.formation);
  for (const [type, count] of formation) {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new InputError(
        `the count of process type ${quote(type)} in a release's formation must be a ` +
          `non-negative integer`,
      );
    }
  }
  if (
    typeof input.description !== 'string' ||
    input.description.length > ReleaseLimits.maxDescriptionLength
  ) {
    throw new InputError(
      `a release's description must be a string of at most ` +
        `${ReleaseLimits.maxDescriptionLength} characters`,
    );
  }
  const deploymentId: unknown = input.deploymentId ?? null;
  if (deploymentId !== null && typeof deploymentId !== 'string') {
    throw new InputError("a release's deployment id must be a string when given");
  }
  return {
    artifactId: optionalName('artifact id', input.artifactId),
    stack: optionalName('stack', input.stack),
    // fromEntries defines own properties and drops the caller's prototype and extra fields.
    processes: Object.fromEntries(commands) as Record<string, ProcessCommand>,
    formation: Object.fromEntries(formation) as Record<string, number>,
    description: input.description,
    deploymentId,
  };
}

/** Versions are positive integers; anything else is a malformed request, not a missing one. */
export function validateVersion(version: number): void {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new InputError(
      `a release version must be a positive integer; got ${
        typeof version === 'number' ? String(version) : `a ${typeof version}`
      }`,
    );
  }
}

/** Sorts by UTF-16 code unit, the same on every backend (SQL collations differ). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
