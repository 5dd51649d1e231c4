import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'berth_';
const RANDOM_BYTES = 32;
/** `berth_` and the base64url (unpadded) of 32 random bytes: 43 characters. */
const TOKEN_PATTERN = /^berth_[A-Za-z0-9_-]{43}$/;

/** A new opaque API token: 256 random bits behind a prefix that secret scanners can match. */
export function generateToken(): string {
  return PREFIX + randomBytes(RANDOM_BYTES).toString('base64url');
}

/**
 * The stored form of a token: SHA-256, hex. A fast hash is enough here (unlike passwords): the
 * token has 256 random bits, so nothing can be guessed from the hash.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a string has the shape of a Berth token; anything else is refused before SQL. */
export function looksLikeToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}
