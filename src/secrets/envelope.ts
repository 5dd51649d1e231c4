import { SecretsError, SecretsErrorCodes } from './errors.js';

/** The envelope format this build writes. */
export const ENVELOPE_VERSION = 1;

/** AES-256-GCM sizes: a 96-bit IV (the size GCM is built for), a 128-bit tag, a 256-bit key. */
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** The key id: 16 lowercase hex digits. */
const KEY_ID = /^[0-9a-f]{16}$/;

/** Unpadded base64url, the only binary encoding an envelope uses. */
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * One sealed secret. `dek*` is the data key wrapped by the master key; `iv`, `ct` and `tag`
 * are the value encrypted with the data key.
 */
export interface Envelope {
  readonly v: typeof ENVELOPE_VERSION;
  /** The id of the master key that wrapped the data key. */
  readonly kid: string;
  readonly dekIv: Buffer;
  readonly dek: Buffer;
  readonly dekTag: Buffer;
  readonly iv: Buffer;
  readonly ct: Buffer;
  readonly tag: Buffer;
}

const binaryFields = ['dekIv', 'dek', 'dekTag', 'iv', 'ct', 'tag'] as const;
type BinaryField = (typeof binaryFields)[number];

/** The decoded length each binary field must have; undefined means any. */
const fieldBytes: Readonly<Record<BinaryField, number | undefined>> = {
  dekIv: IV_BYTES,
  dek: KEY_BYTES,
  dekTag: TAG_BYTES,
  iv: IV_BYTES,
  ct: undefined,
  tag: TAG_BYTES,
};

const allFields: ReadonlySet<string> = new Set(['v', 'kid', ...binaryFields]);

/** The compact JSON text of an envelope, fields in a fixed order. */
export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify({
    v: envelope.v,
    kid: envelope.kid,
    dekIv: envelope.dekIv.toString('base64url'),
    dek: envelope.dek.toString('base64url'),
    dekTag: envelope.dekTag.toString('base64url'),
    iv: envelope.iv.toString('base64url'),
    ct: envelope.ct.toString('base64url'),
    tag: envelope.tag.toString('base64url'),
  });
}

function malformed(reason: string): SecretsError {
  return new SecretsError(SecretsErrorCodes.SECRETS_MALFORMED, `not a secret envelope: ${reason}`);
}

/**
 * Reads an envelope strictly: exactly the known fields, canonical base64url, exact lengths.
 * Node's base64 decoder skips characters it does not know, so without the canonical check an
 * edited envelope could decode to the same bytes and look untouched.
 */
export function decodeEnvelope(text: string): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('it is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed('it is not a JSON object');
  }
  const fields = parsed as Record<string, unknown>;
  const version = fields['v'];
  if (typeof version !== 'number') throw malformed("the version field 'v' is missing");
  if (version !== ENVELOPE_VERSION) {
    throw new SecretsError(
      SecretsErrorCodes.SECRETS_UNSUPPORTED_VERSION,
      `the secret envelope has version ${version}; this build of Berth opens version ${ENVELOPE_VERSION} only`,
    );
  }
  const extra = Object.keys(fields).find((name) => !allFields.has(name));
  if (extra !== undefined) throw malformed(`it has an unknown field ${JSON.stringify(extra)}`);
  const kid = fields['kid'];
  if (typeof kid !== 'string' || !KEY_ID.test(kid)) {
    throw malformed("the key id 'kid' is not 16 hex digits");
  }
  const binary = (name: BinaryField): Buffer => {
    const value = fields[name];
    if (typeof value !== 'string' || !BASE64URL.test(value)) {
      throw malformed(`the field '${name}' is not base64url text`);
    }
    const bytes = Buffer.from(value, 'base64url');
    if (bytes.toString('base64url') !== value) {
      throw malformed(`the field '${name}' is not canonical base64url`);
    }
    const expected = fieldBytes[name];
    if (expected !== undefined && bytes.length !== expected) {
      throw malformed(`the field '${name}' holds ${bytes.length} bytes instead of ${expected}`);
    }
    return bytes;
  };
  return {
    v: ENVELOPE_VERSION,
    kid,
    dekIv: binary('dekIv'),
    dek: binary('dek'),
    dekTag: binary('dekTag'),
    iv: binary('iv'),
    ct: binary('ct'),
    tag: binary('tag'),
  };
}
