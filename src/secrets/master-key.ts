import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { KEY_BYTES } from './envelope.js';
import { SecretsError, SecretsErrorCodes } from './errors.js';

/** The master key's file inside the data directory. */
export const MASTER_KEY_FILE = 'master.key';

/** The environment variable that, when set, supplies the master key instead of the file. */
export const MASTER_KEY_ENV = 'BERTH_MASTER_KEY';

/** Where a master key came from, for the start-up log (never the key itself). */
export type MasterKeySource =
  | { readonly kind: 'environment'; readonly variable: typeof MASTER_KEY_ENV }
  | { readonly kind: 'file'; readonly path: string; readonly created: boolean }
  | { readonly kind: 'bytes' };

/** The key that wraps every data key (the KEK). Frozen; safe to log (the key is opaque). */
export interface MasterKey {
  /** A short public fingerprint of the key, written into every envelope it seals. */
  readonly id: string;
  readonly source: MasterKeySource;
  /** An opaque handle: `util.inspect` and `JSON.stringify` do not show its bytes. */
  readonly key: KeyObject;
}

export interface LoadMasterKeyOptions {
  /** Holds master.key when BERTH_MASTER_KEY is not set; created (0700) if missing. */
  readonly dataDir: string;
  /** The process environment, or a test's. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The key id: 16 hex digits of a SHA-256 over a fixed label and the key. */
function keyId(bytes: Uint8Array): string {
  return createHash('sha256')
    .update('berth master key id\0')
    .update(bytes)
    .digest('hex')
    .slice(0, 16);
}

/** Makes a master key of 32 bytes (for tests, and keys supplied by other means). */
export function masterKeyFromBytes(
  bytes: Uint8Array,
  source: MasterKeySource = { kind: 'bytes' },
): MasterKey {
  if (bytes.length !== KEY_BYTES) {
    throw new SecretsError(
      SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY,
      `a master key must be ${KEY_BYTES} bytes, not ${bytes.length}`,
    );
  }
  // createSecretKey copies the bytes, so the caller may wipe its buffer afterwards.
  return Object.freeze({
    id: keyId(bytes),
    source: Object.freeze(source),
    key: createSecretKey(bytes),
  });
}

/**
 * Decodes key text: 64 hex digits, or base64 (standard or URL-safe, padded or not) of exactly
 * 32 bytes. Anything else is undefined; the caller says where it came from.
 */
function decodeKeyText(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed) || /^[A-Za-z0-9_-]{43}=?$/.test(trimmed)) {
    return Buffer.from(trimmed, 'base64');
  }
  return undefined;
}

function fromEnvironment(value: string): MasterKey {
  const bytes = decodeKeyText(value);
  if (!bytes) {
    // The length helps spot a truncated paste; the value itself is never repeated.
    throw new SecretsError(
      SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY,
      `${MASTER_KEY_ENV} must be exactly ${KEY_BYTES} bytes written as 64 hex digits or as base64 ` +
        `(43 characters, or 44 with '=' padding); the value set has ${value.trim().length} characters ` +
        `and is neither. Unset it to use ${MASTER_KEY_FILE} in the data directory instead.`,
    );
  }
  try {
    return masterKeyFromBytes(bytes, { kind: 'environment', variable: MASTER_KEY_ENV });
  } finally {
    bytes.fill(0);
  }
}

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/**
 * Reads master.key, or returns undefined when there is none. Checks the mode on the opened
 * file (not the path), so the file checked is the file read.
 */
function readKeyFile(file: string, created: boolean): MasterKey | undefined {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new SecretsError(
        SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY,
        `${file} is not a regular file; it must hold the master key`,
      );
    }
    if ((stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new SecretsError(
        SecretsErrorCodes.SECRETS_INSECURE_MASTER_KEY,
        `${file} is accessible by group or others (mode ${mode}); the master key must be ` +
          `private to its owner: run \`chmod 600 ${file}\` and start again`,
      );
    }
    const bytes = decodeKeyText(readFileSync(fd, 'utf8'));
    if (!bytes) {
      throw new SecretsError(
        SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY,
        `${file} does not hold a ${KEY_BYTES}-byte key in base64 or hex. Restore the original ` +
          `file from a backup: a new key cannot open the secrets sealed with the old one.`,
      );
    }
    try {
      return masterKeyFromBytes(bytes, { kind: 'file', path: file, created });
    } finally {
      bytes.fill(0);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a new random key to master.key unless one exists. The key is written and synced to
 * a private temp file first and then hard-linked into place: link() fails when the target
 * exists, so a key is never overwritten and, of processes racing, exactly one wins; readers
 * never see a half-written file. Returns whether this call made the key.
 */
function createKeyFile(file: string): boolean {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${MASTER_KEY_FILE}.${randomBytes(8).toString('hex')}.tmp`);
  const bytes = randomBytes(KEY_BYTES);
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      // The umask may have taken more than group and other bits; the owner needs to read it.
      fchmodSync(fd, 0o600);
      writeFileSync(fd, `${bytes.toString('base64')}\n`, 'utf8');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, file);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    }
    syncDirectory(dir);
    return true;
  } finally {
    bytes.fill(0);
    try {
      unlinkSync(temp);
    } catch {
      // Not created (open failed), or already gone.
    }
  }
}

/** Makes a new directory entry durable (best effort: not every file system allows it). */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, fsConstants.O_RDONLY);
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the key is on disk regardless.
  } finally {
    closeSync(fd);
  }
}

/**
 * The controller's master key: BERTH_MASTER_KEY when set (it must be valid), else
 * `<dataDir>/master.key`, created with 32 random bytes on first start. An existing file that
 * group or others can access, or that holds no 32-byte key, is refused, never replaced.
 * Synchronous: it runs once, at start-up, before anything else needs the event loop.
 */
export function loadOrCreateMasterKey(options: LoadMasterKeyOptions): MasterKey {
  const fromEnv = options.env[MASTER_KEY_ENV];
  if (fromEnv !== undefined) return fromEnvironment(fromEnv);

  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(options.dataDir, MASTER_KEY_FILE);
  const existing = readKeyFile(file, false);
  if (existing) return existing;

  const created = createKeyFile(file);
  // Read back what is on disk: the winner's key when another process raced us.
  const key = readKeyFile(file, created);
  if (!key) throw new Error(`${file} vanished right after it was created`);
  return key;
}
