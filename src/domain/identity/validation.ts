import { ErrorCodes, InputError } from '../../errors/index.js';
import { COMMON_PASSWORDS_TEXT } from './common-passwords.js';
import { Scopes, type Scope } from './model.js';

/** The pattern of usernames (the same as app names). */
export const USERNAME_PATTERN = /^[a-z][a-z0-9-]{0,38}$/;
/** Characters (code points) a new password has at least. */
export const MIN_PASSWORD_LENGTH = 12;
/** UTF-8 bytes a password has at most: bounds the work one login asks of argon2. */
export const MAX_PASSWORD_BYTES = 1024;
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

/**
 * Any password given, at login too: at most MAX_PASSWORD_BYTES in UTF-8, checked before it is
 * hashed so that a huge one costs nothing.
 */
export function checkPasswordSize(password: string): void {
  // Counted without encoding: a 900 KB password is refused without copying it.
  if (password.length > MAX_PASSWORD_BYTES || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new InputError(`a password has at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`);
  }
}

let commonPasswords: ReadonlySet<string> | undefined;

/** Whether `password` is on the list of 10,000 common passwords, in any case. */
export function isCommonPassword(password: string): boolean {
  // Built at first use: most processes (the CLI, the router) never check a new password.
  commonPasswords ??= new Set(COMMON_PASSWORDS_TEXT.split('\n'));
  return commonPasswords.has(password.toLowerCase());
}

/** A new password (a user created, a password changed): its size, length and commonness. */
export function checkNewPassword(password: string): void {
  checkPasswordSize(password);
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new InputError(`a password has at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (isCommonPassword(password)) {
    throw new InputError(
      'that password is on a list of the 10,000 most common passwords; choose another',
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
