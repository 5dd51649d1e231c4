import { ErrorCodes, InputError } from '../../errors/index.js';
import { APP_NAME_PATTERN } from '../apps/index.js';
import { ADDON_KINDS, type AddonKind } from './model.js';

/** Add-on names follow app names: DNS labels of at most 39 characters. */
export const ADDON_NAME_PATTERN = APP_NAME_PATTERN;

/**
 * An alias names the variable `<ALIAS>_URL`: an upper-case environment name of at most 60
 * characters, and never one of Berth's own (BERTH_*).
 */
export const ALIAS_PATTERN = /^[A-Z][A-Z0-9_]{0,59}$/;

/** The alias an add-on of a kind is attached as unless one is given. */
export const DEFAULT_ALIASES: Readonly<Record<AddonKind, string>> = Object.freeze({
  postgres: 'DATABASE',
  redis: 'REDIS',
});

export function validateKind(kind: unknown): AddonKind {
  if (typeof kind !== 'string' || !(ADDON_KINDS as readonly string[]).includes(kind)) {
    throw new InputError(
      `unknown add-on kind '${String(kind).slice(0, 32)}'; Berth makes ${ADDON_KINDS.join(', ')}`,
      ErrorCodes.ADDON_KIND_UNKNOWN,
    );
  }
  return kind as AddonKind;
}

export function validateAddonName(name: string): string {
  if (!ADDON_NAME_PATTERN.test(name)) {
    throw new InputError(
      `add-on name '${name.slice(0, 64)}' must start with a lowercase letter and hold only lowercase letters, digits and '-', at most 39 characters`,
      ErrorCodes.INVALID_NAME,
    );
  }
  return name;
}

export function validateAlias(alias: string): string {
  if (!ALIAS_PATTERN.test(alias) || alias.startsWith('BERTH_')) {
    throw new InputError(
      `alias '${alias.slice(0, 64)}' must be an environment variable name: upper-case letters, digits and '_', starting with a letter, at most 60 characters, not BERTH_*`,
      ErrorCodes.INVALID_NAME,
    );
  }
  return alias;
}
