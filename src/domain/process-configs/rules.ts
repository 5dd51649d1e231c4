import { InputError } from '../../errors/index.js';
import {
  CONFIG_KEY_PATTERN,
  ConfigLimits,
  refusedKeyRule,
  type KeyPolicy,
} from '../config/index.js';

/** Process types (`web`, `worker`, `release-tasks`): they name units, so they stay DNS-safe. */
export const PROCESS_TYPE_PATTERN = /^[a-z][a-z0-9-]{0,29}$/;

/** The limits on per-process-type config; the API may quote them. */
export const ProcessConfigLimits = Object.freeze({
  /** Process types in one PUT, and process types with config per app. */
  maxProcessTypes: 30,
  maxKeysPerType: 500,
  /** Bytes of a value in UTF-8, the same as an app's config vars (32 KiB). */
  maxValueBytes: ConfigLimits.maxValueBytes,
});

/** Per process type, its config vars: `{web: {KEY: value}}`. */
export type ProcessConfigs = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** One process type's validated map, its entries sorted by key. An empty map deletes. */
export interface ValidProcessConfig {
  readonly processType: string;
  readonly vars: readonly (readonly [key: string, value: string])[];
}

/** Sorts by UTF-16 code unit, the same on every backend (SQL collations differ). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Names are not secret, but a hostile one may be long or hold control characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

/** Lone UTF-16 surrogates cannot be stored as UTF-8 and passed to a process unchanged. */
const LONE_SURROGATE = /\p{Surrogate}/u;

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateVars(processType: string, vars: unknown, policy: KeyPolicy): ValidProcessConfig {
  const where = `process type ${quote(processType)}`;
  if (!isPlainObject(vars)) {
    throw new InputError(
      `the config of ${where} must be an object of keys to string values; got ${describe(vars)}`,
    );
  }
  const entries = Object.entries(vars);
  if (entries.length > ProcessConfigLimits.maxKeysPerType) {
    throw new InputError(
      `the config of ${where} has ${entries.length} keys; at most ` +
        `${ProcessConfigLimits.maxKeysPerType} are allowed`,
    );
  }
  const valid: [string, string][] = [];
  for (const [key, value] of entries) {
    if (!CONFIG_KEY_PATTERN.test(key)) {
      throw new InputError(
        `config key ${quote(key)} of ${where} is not allowed: a key starts with a letter or ` +
          `'_', holds only letters, digits and '_', and has at most 256 characters`,
      );
    }
    if (typeof value !== 'string') {
      throw new InputError(
        `the value of config key ${quote(key)} of ${where} must be a string; got ${describe(value)}`,
      );
    }
    const refused = refusedKeyRule(key, policy);
    if (refused !== undefined) {
      throw new InputError(`config key ${quote(key)} of ${where} is refused: ${refused}`);
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > ProcessConfigLimits.maxValueBytes) {
      throw new InputError(
        `the value of config key ${quote(key)} of ${where} is ${bytes} bytes; at most ` +
          `${ProcessConfigLimits.maxValueBytes} (32 KiB, UTF-8) are allowed`,
      );
    }
    if (value.includes('\0')) {
      throw new InputError(
        `the value of config key ${quote(key)} of ${where} holds a NUL character, which an ` +
          `environment variable cannot carry`,
      );
    }
    if (LONE_SURROGATE.test(value)) {
      throw new InputError(
        `the value of config key ${quote(key)} of ${where} is not well-formed Unicode (it ` +
          `holds a lone surrogate)`,
      );
    }
    valid.push([key, value]);
  }
  valid.sort(([a], [b]) => byCodeUnit(a, b));
  return { processType, vars: valid };
}

/**
 * Checks a whole PUT before anything is written; throws InputError naming the first offending
 * process type or key and the rule. Messages never hold a value. Result sorted by type.
 */
export function validateProcessConfigs(
  configs: ProcessConfigs,
  policy: KeyPolicy = { allowRuntimeKeys: false },
): ValidProcessConfig[] {
  if (!isPlainObject(configs)) {
    throw new InputError(
      'process configs must be an object of process types to objects of keys to values',
    );
  }
  const entries = Object.entries(configs as Record<string, unknown>);
  if (entries.length > ProcessConfigLimits.maxProcessTypes) {
    throw new InputError(
      `process configs name ${entries.length} process types; at most ` +
        `${ProcessConfigLimits.maxProcessTypes} are allowed`,
    );
  }
  const valid: ValidProcessConfig[] = [];
  for (const [processType, vars] of entries) {
    if (!PROCESS_TYPE_PATTERN.test(processType)) {
      throw new InputError(
        `process type ${quote(processType)} is not allowed: a process type starts with a ` +
          `lowercase letter, holds only lowercase letters, digits and '-', and has at most 30 ` +
          `characters`,
      );
    }
    valid.push(validateVars(processType, vars, policy));
  }
  return valid.sort((a, b) => byCodeUnit(a.processType, b.processType));
}

/** The canonical plaintext of a map: keys sorted, so equal maps seal equal text. */
export function encodeVars(vars: ValidProcessConfig['vars']): string {
  return JSON.stringify(Object.fromEntries(vars));
}

/** Reads back what encodeVars wrote (authenticated by the envelope, so trusted). */
export function decodeVars(plaintext: string): Record<string, string> {
  const parsed: unknown = JSON.parse(plaintext);
  if (!isPlainObject(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new Error('a process config envelope does not hold a map of strings');
  }
  return parsed as Record<string, string>;
}
