import { ErrorCodes, InputError } from '../../errors/index.js';
import { Scopes, type Scope } from './model.js';

/** The pattern of usernames (the same as app names). */
export const USERNAME_PATTERN = /^[a-z][a-z0-9-]{0,38}$/;
export const MIN_PASSWORD_LENGTH = 8;
/** Bounds the work one login asks of argon2 (and of the request parser). */
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_TOKEN_NAME_LENGTH = 64;

/** Any character but controls, formats, surrogates and unassigned code points. */
const PRINTABLE = /^\P{C}+$/u;

export function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new InputError(
      'username must start with a lowercase letter and hold at most 39 lowercase letters, digits and dashes',
      ErrorCodes.INVALID_NAME,
    );
  }
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new InputError(
      `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`,
    );
  }
}

export function checkTokenName(name: string): void {
  const length = [...name].length;
  if (length < 1 || length > MAX_TOKEN_NAME_LENGTH || !PRINTABLE.test(name) || !name.trim()) {
    throw new InputError(
      `token name must be 1 to ${MAX_TOKEN_NAME_LENGTH} printable characters`,
      ErrorCodes.INVALID_NAME,
    );
  }
}

/** A non-empty list of known scopes without duplicates, returned sorted (the stored order). */
export function checkScopes(scopes: readonly string[]): Scope[] {
  if (scopes.length === 0) throw new InputError('a token needs at least one scope');
  const seen = new Set<Scope>();
  for (const scope of scopes) {
    if (!isScope(scope)) {
      throw new InputError(`unknown scope '${scope}'; scopes are ${Scopes.join(', ')}`);
    }
    if (seen.has(scope)) throw new InputError(`scope '${scope}' is given twice`);
    seen.add(scope);
  }
  return [...seen].sort();
}

export function isScope(value: string): value is Scope {
  return (Scopes as readonly string[]).includes(value);
}

/** An expiry in the future, as an ISO-8601 UTC string. */
export function checkExpiry(expiresAt: Date | string, now: Date): string {
  const when =
    typeof expiresAt === 'string' ? parseIsoTime(expiresAt) : new Date(expiresAt.getTime());
  if (when === undefined || Number.isNaN(when.getTime())) {
    throw new InputError('expiresAt must be an ISO-8601 time, e.g. 2030-01-01T00:00:00Z');
  }
  if (when.getTime() <= now.getTime()) throw new InputError('expiresAt must be in the future');
  return when.toISOString();
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseIsoTime(value: string): Date | undefined {
  return ISO_TIME.test(value) ? new Date(value) : undefined;
}
