import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  IV_BYTES,
  KEY_BYTES,
  TAG_BYTES,
} from './envelope.js';
import { SecretsError, SecretsErrorCodes } from './errors.js';
import type { MasterKey } from './master-key.js';

const CIPHER = 'aes-256-gcm';

/** With the `u` flag a surrogate pair is one code point, so this finds only lone halves. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * UTF-8 would turn a lone surrogate into U+FFFD: a plaintext would not round-trip, and two
 * owners' associated data could encode to the same bytes.
 */
function assertText(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw new SecretsError(
      SecretsErrorCodes.SECRETS_INVALID_TEXT,
      `the ${what} is not well-formed Unicode (it holds a lone surrogate)`,
    );
  }
}

/**
 * Associated data, one per use of GCM, so a wrapped data key can never pass as a value. A
 * JSON array keeps the parts apart whatever characters the owner's string holds.
 */
function dataKeyAad(keyId: string, owner: string): Buffer {
  return Buffer.from(JSON.stringify(['berth.secrets.dek', ENVELOPE_VERSION, keyId, owner]));
}
function valueAad(owner: string): Buffer {
  return Buffer.from(JSON.stringify(['berth.secrets.value', ENVELOPE_VERSION, owner]));
}

function encrypt(key: KeyObject | Buffer, plaintext: Buffer, aad: Buffer) {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ct, tag: cipher.getAuthTag() };
}

/** Decrypts and authenticates; returns nothing unless the tag verifies. */
function decrypt(key: KeyObject | Buffer, iv: Buffer, ct: Buffer, tag: Buffer, aad: Buffer) {
  try {
    const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch (error) {
    throw new SecretsError(
      SecretsErrorCodes.SECRETS_TAMPERED,
      'the secret failed authentication: its envelope was altered, or it is being opened for ' +
        'another owner than the one it was sealed for',
      { cause: error },
    );
  }
}

/**
 * Envelope encryption with AES-256-GCM. Each secret gets a fresh random data key (DEK) that
 * encrypts it; the master key (KEK) wraps the DEK. The caller's associated data (its owner,
 * e.g. `config:<appId>:<KEY>`) is authenticated with both, so an envelope copied to another
 * owner does not open. Envelopes are compact JSON carrying a version and the master key's id.
 */
export class SecretBox {
  /** The id of the master key, written into every envelope sealed here. */
  readonly keyId: string;
  readonly #key: KeyObject;

  constructor(masterKey: MasterKey) {
    this.keyId = masterKey.id;
    this.#key = masterKey.key;
  }

  /** Encrypts `plaintext` for the owner named by `associatedData`; returns the envelope. */
  seal(plaintext: string, associatedData: string): string {
    assertText(plaintext, 'plaintext');
    assertText(associatedData, 'associated data');
    const dek = randomBytes(KEY_BYTES);
    const text = Buffer.from(plaintext, 'utf8');
    try {
      const value = encrypt(dek, text, valueAad(associatedData));
      const wrapped = encrypt(this.#key, dek, dataKeyAad(this.keyId, associatedData));
      return encodeEnvelope({
        v: ENVELOPE_VERSION,
        kid: this.keyId,
        dekIv: wrapped.iv,
        dek: wrapped.ct,
        dekTag: wrapped.tag,
        iv: value.iv,
        ct: value.ct,
        tag: value.tag,
      });
    } finally {
      dek.fill(0);
      text.fill(0);
    }
  }

  /**
   * Opens an envelope sealed for the same `associatedData`. Throws SecretsError:
   * SECRETS_MALFORMED or SECRETS_UNSUPPORTED_VERSION for text that is no envelope this build
   * reads, SECRETS_WRONG_MASTER_KEY when another master key sealed it, SECRETS_TAMPERED when
   * it fails authentication (altered, or another owner's).
   */
  open(envelope: string, associatedData: string): string {
    assertText(associatedData, 'associated data');
    const parsed = decodeEnvelope(envelope);
    if (parsed.kid !== this.keyId) {
      throw new SecretsError(
        SecretsErrorCodes.SECRETS_WRONG_MASTER_KEY,
        `the secret was sealed with master key ${parsed.kid}, but the master key loaded is ` +
          `${this.keyId}; start Berth with the master key the store was written with`,
      );
    }
    const dek = decrypt(
      this.#key,
      parsed.dekIv,
      parsed.dek,
      parsed.dekTag,
      dataKeyAad(this.keyId, associatedData),
    );
    try {
      const text = decrypt(dek, parsed.iv, parsed.ct, parsed.tag, valueAad(associatedData));
      try {
        return text.toString('utf8');
      } finally {
        text.fill(0);
      }
    } finally {
      dek.fill(0);
    }
  }
}
