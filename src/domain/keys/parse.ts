import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type ssh2Module from 'ssh2';
import { ErrorCodes, InputError } from '../../errors/index.js';

const require = createRequire(import.meta.url);
let ssh2: typeof ssh2Module | undefined;

/**
 * ssh2 (some 12 MB resident), required the first time a key is parsed rather than when the
 * module loads: a controller whose users never add a key, with SSH off, never holds it.
 */
function ssh2Utils(): typeof ssh2Module.utils {
  ssh2 ??= require('ssh2') as typeof ssh2Module;
  return ssh2.utils;
}

/** The key types accepted (OpenSSH's names). */
export const KEY_TYPES: readonly string[] = Object.freeze([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
]);

/** The longest authorized_keys line accepted (a 16384-bit RSA key is ~2.8 KiB). */
const MAX_LINE = 8192;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A public key read from an authorized_keys line. */
export interface ParsedPublicKey {
  readonly type: string;
  /** `<type> <base64>`, normalized. */
  readonly publicKey: string;
  readonly fingerprint: string;
  /** The line's comment, if any (a default name). */
  readonly comment: string;
}

/** `SHA256:<base64 without padding>` of a key blob, as OpenSSH prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function invalid(message: string): InputError {
  return new InputError(message, ErrorCodes.KEY_INVALID);
}

/**
 * Reads one authorized_keys line (`<type> <base64> [comment]`, no options): the type must be
 * one of KEY_TYPES, the blob must parse with ssh2 as a key of that type, and a private key
 * is refused without echoing any of it. InputError KEY_INVALID otherwise.
 */
export function parsePublicKey(text: string): ParsedPublicKey {
  if (text.length > MAX_LINE) throw invalid(`a public key line is at most ${MAX_LINE} characters`);
  if (/PRIVATE KEY/.test(text))
    throw invalid('that is a private key: add the public key (the .pub file) instead');
  const line = text.trim();
  if (line === '' || /[\r\n]/.test(line))
    throw invalid('give exactly one public key line (`ssh-ed25519 AAAA… comment`)');
  const [type = '', data = '', ...rest] = line.split(/[ \t]+/);
  if (!KEY_TYPES.includes(type))
    throw invalid(
      `'${type.slice(0, 40)}' is not a supported key type (one of ${KEY_TYPES.join(', ')}; no options before it)`,
    );
  if (!BASE64.test(data)) throw invalid('the key data is not base64');
  const parsed = ssh2Utils().parseKey(`${type} ${data}`);
  if (parsed instanceof Error || Array.isArray(parsed))
    throw invalid(`not a valid ${type} public key`);
  if (parsed.isPrivateKey())
    throw invalid('that is a private key: add the public key (the .pub file) instead');
  if (parsed.type !== type) throw invalid(`the key data is a ${parsed.type} key, not ${type}`);
  const blob = parsed.getPublicSSH();
  if (!blob.equals(Buffer.from(data, 'base64'))) throw invalid(`not a valid ${type} public key`);
  return {
    type,
    publicKey: `${type} ${blob.toString('base64')}`,
    fingerprint: fingerprintOf(blob),
    comment: rest.join(' ').slice(0, 100),
  };
}
