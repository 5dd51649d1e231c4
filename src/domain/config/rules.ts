import { InputError } from '../../errors/index.js';

/** Config keys: environment-variable names. */
export const CONFIG_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** The limits on config vars; the API may quote them. */
export const ConfigLimits = Object.freeze({
  /** Bytes of a value in UTF-8 (32 KiB). */
  maxValueBytes: 32 * 1024,
  maxKeysPerPatch: 100,
  maxVarsPerApp: 500,
});

/** Keys Berth sets in every process itself (PORT, BERTH_APP, …): never config. */
export function isPlatformKey(key: string): boolean {
  return key === 'PORT' || key.startsWith('BERTH_');
}

/**
 * Keys that change how every process of the app starts (the dynamic loader, Node itself): a
 * sample value or a typo must not set them, only the app's owner saying so (allowRuntimeKeys).
 */
export const RUNTIME_KEYS: readonly string[] = Object.freeze([
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'NODE_OPTIONS',
]);

/** How a caller sets keys: allowRuntimeKeys is the owner's explicit flag, off by default. */
export interface KeyPolicy {
  readonly allowRuntimeKeys: boolean;
}

/** The flag's name in the API (`?allowRuntimeKeys=true`) and the CLI, quoted by messages. */
export const ALLOW_RUNTIME_KEYS_FLAG =
  '?allowRuntimeKeys=true (berth config set --allow-runtime-keys)';

/**
 * Why `key` may not be set under `policy`, or undefined when it may. The one rule for every
 * path a key arrives by: a config patch, per-process-type config, berth.json samples.
 */
export function refusedKeyRule(key: string, policy: KeyPolicy): string | undefined {
  if (isPlatformKey(key)) {
    return 'PORT and every BERTH_* variable are set by Berth in each process and cannot be config';
  }
  if (RUNTIME_KEYS.includes(key) && !policy.allowRuntimeKeys) {
    return (
      `${RUNTIME_KEYS.join(', ')} change how every process of the app starts; the app's owner ` +
      `sets them explicitly, with ${ALLOW_RUNTIME_KEYS_FLAG}`
    );
  }
  return undefined;
}

/** A patch: a string sets the key, null unsets it. */
export type ConfigPatch = Readonly<Record<string, string | null>>;

/** A validated patch, each list sorted by key. */
export interface ValidPatch {
  readonly sets: readonly (readonly [key: string, value: string])[];
  readonly unsets: readonly string[];
}

/** Sorts by UTF-16 code unit, the same on every backend (SQL collations differ). */
export function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Keys are not secret, but a hostile one may be long or hold control characters. */
function quoteKey(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
}

/** Lone UTF-16 surrogates cannot be stored as UTF-8 and passed to a process unchanged. */
const LONE_SURROGATE = /\p{Surrogate}/u;

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return value === undefined ? 'nothing' : `a ${typeof value}`;
}

/**
 * Checks a patch before anything is written; throws InputError naming the first offending key
 * and rule. Messages name keys and sizes, never a value. A refused key may still be unset, so
 * one set before the rule existed can be removed.
 */
export function validatePatch(
  changes: ConfigPatch,
  policy: KeyPolicy = { allowRuntimeKeys: false },
): ValidPatch {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
    throw new InputError('a config patch must be an object of keys to values (null unsets)');
  }
  const entries = Object.entries(changes as Record<string, unknown>);
  if (entries.length === 0) {
    throw new InputError('a config patch must set or unset at least one key');
  }
  if (entries.length > ConfigLimits.maxKeysPerPatch) {
    throw new InputError(
      `a config patch may change at most ${ConfigLimits.maxKeysPerPatch} keys; this one has ${entries.length}`,
    );
  }
  const sets: [string, string][] = [];
  const unsets: string[] = [];
  for (const [key, value] of entries) {
    if (!CONFIG_KEY_PATTERN.test(key)) {
      throw new InputError(
        `config key ${quoteKey(key)} is not allowed: a key starts with a letter or '_', holds ` +
          `only letters, digits and '_', and has at most 256 characters`,
      );
    }
    if (value === null) {
      unsets.push(key);
      continue;
    }
    if (typeof value !== 'string') {
      throw new InputError(
        `the value of config key ${quoteKey(key)} must be a string, or null to unset it; got ${describe(value)}`,
      );
    }
    const refused = refusedKeyRule(key, policy);
    if (refused !== undefined) {
      throw new InputError(`config key ${quoteKey(key)} is refused: ${refused}`);
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > ConfigLimits.maxValueBytes) {
      throw new InputError(
        `the value of config key ${quoteKey(key)} is ${bytes} bytes; at most ` +
          `${ConfigLimits.maxValueBytes} (32 KiB, UTF-8) are allowed`,
      );
    }
    if (value.includes('\0')) {
      throw new InputError(
        `the value of config key ${quoteKey(key)} holds a NUL character, which an environment variable cannot carry`,
      );
    }
    if (LONE_SURROGATE.test(value)) {
      throw new InputError(
        `the value of config key ${quoteKey(key)} is not well-formed Unicode (it holds a lone surrogate)`,
      );
    }
    sets.push([key, value]);
  }
  sets.sort(([a], [b]) => byKey(a, b));
  unsets.sort(byKey);
  return { sets, unsets };
}
