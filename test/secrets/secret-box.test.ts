import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import {
  masterKeyFromBytes,
  SecretBox,
  SecretsError,
  SecretsErrorCodes,
  type SecretsErrorCode,
} from '../../src/secrets/index.js';

const OWNER = 'config:app-1:DATABASE_URL';

function newBox(): SecretBox {
  return new SecretBox(masterKeyFromBytes(randomBytes(32)));
}

/** An assert.rejects/throws predicate: a SecretsError with this code and no secret in it. */
function secretsError(code: SecretsErrorCode, ...secrets: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof SecretsError, `expected a SecretsError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const secret of secrets) assert.ok(!error.message.includes(secret), error.message);
    return true;
  };
}

/** The envelope with one field's bytes changed (one bit flipped), re-encoded canonically. */
function flipBit(envelope: string, field: string): string {
  const fields = JSON.parse(envelope) as Record<string, string>;
  const bytes = Buffer.from(fields[field] ?? '', 'base64url');
  assert.ok(bytes.length > 0, `field ${field} is empty`);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
  return JSON.stringify({ ...fields, [field]: bytes.toString('base64url') });
}

describe('SecretBox', () => {
  it('opens what it sealed', () => {
    const box = newBox();
    for (const plaintext of ['postgres://u:p@h/db', '', 'ünïcödé 🚢', 'x'.repeat(40_000)]) {
      assert.equal(box.open(box.seal(plaintext, OWNER), OWNER), plaintext);
    }
  });

  it('seals the same plaintext into different envelopes', () => {
    const box = newBox();
    const a = box.seal('same', OWNER);
    const b = box.seal('same', OWNER);
    assert.notEqual(a, b);
    const fa = JSON.parse(a) as Record<string, string>;
    const fb = JSON.parse(b) as Record<string, string>;
    for (const field of ['dekIv', 'dek', 'iv', 'ct']) assert.notEqual(fa[field], fb[field]);
  });

  it('writes compact JSON with a version and the key id, and no plaintext', () => {
    const key = masterKeyFromBytes(randomBytes(32));
    const box = new SecretBox(key);
    const envelope = box.seal('very-secret-value', OWNER);
    const fields = JSON.parse(envelope) as Record<string, unknown>;
    assert.deepEqual(Object.keys(fields), [
      'v',
      'kid',
      'dekIv',
      'dek',
      'dekTag',
      'iv',
      'ct',
      'tag',
    ]);
    assert.equal(fields['v'], 1);
    assert.equal(fields['kid'], key.id);
    assert.match(key.id, /^[0-9a-f]{16}$/);
    assert.equal(envelope, JSON.stringify(fields));
    assert.ok(!envelope.includes('very-secret-value'));
  });

  it('refuses to open an envelope for another owner', () => {
    const box = newBox();
    const envelope = box.seal('value', 'config:app-1:KEY');
    for (const other of ['config:app-2:KEY', 'config:app-1:OTHER', '', 'config:app-1:KEY ']) {
      assert.throws(
        () => box.open(envelope, other),
        secretsError(SecretsErrorCodes.SECRETS_TAMPERED, 'value'),
      );
    }
  });

  it('detects a change to any encrypted field', () => {
    const box = newBox();
    const envelope = box.seal('the plaintext', OWNER);
    for (const field of ['dekIv', 'dek', 'dekTag', 'iv', 'ct', 'tag']) {
      assert.throws(
        () => box.open(flipBit(envelope, field), OWNER),
        secretsError(SecretsErrorCodes.SECRETS_TAMPERED, 'the plaintext'),
        field,
      );
    }
  });

  it('detects a swapped data key or ciphertext from another envelope of the same owner', () => {
    const box = newBox();
    const a = JSON.parse(box.seal('first', OWNER)) as Record<string, string>;
    const b = JSON.parse(box.seal('second', OWNER)) as Record<string, string>;
    const mixed = JSON.stringify({ ...a, iv: b['iv'], ct: b['ct'], tag: b['tag'] });
    assert.throws(() => box.open(mixed, OWNER), secretsError(SecretsErrorCodes.SECRETS_TAMPERED));
  });

  it('names a changed key id or version as such, not as tampering', () => {
    const box = newBox();
    const fields = JSON.parse(box.seal('v', OWNER)) as Record<string, unknown>;
    assert.throws(
      () => box.open(JSON.stringify({ ...fields, kid: '0123456789abcdef' }), OWNER),
      secretsError(SecretsErrorCodes.SECRETS_WRONG_MASTER_KEY),
    );
    assert.throws(
      () => box.open(JSON.stringify({ ...fields, v: 2 }), OWNER),
      secretsError(SecretsErrorCodes.SECRETS_UNSUPPORTED_VERSION),
    );
  });

  it('fails with a clear error under another master key', () => {
    const sealer = newBox();
    const opener = newBox();
    const envelope = sealer.seal('value', OWNER);
    assert.throws(
      () => opener.open(envelope, OWNER),
      (error: unknown) => {
        secretsError(SecretsErrorCodes.SECRETS_WRONG_MASTER_KEY, 'value')(error);
        const message = (error as Error).message;
        assert.ok(message.includes(sealer.keyId) && message.includes(opener.keyId), message);
        return true;
      },
    );
  });

  it('rejects text that is not an envelope', () => {
    const box = newBox();
    const fields = JSON.parse(box.seal('v', OWNER)) as Record<string, string>;
    const withoutCt = Object.fromEntries(Object.entries(fields).filter(([name]) => name !== 'ct'));
    const malformed = [
      '',
      'not json',
      '[]',
      'null',
      '{}',
      JSON.stringify(withoutCt),
      JSON.stringify({ ...fields, extra: 1 }),
      JSON.stringify({ ...fields, kid: 'ZZ' }),
      JSON.stringify({ ...fields, iv: `${fields['iv']}!` }),
      JSON.stringify({ ...fields, iv: `${fields['iv']}=` }),
      JSON.stringify({ ...fields, iv: Buffer.alloc(16).toString('base64url') }),
      JSON.stringify({ ...fields, tag: 42 }),
    ];
    for (const text of malformed) {
      assert.throws(
        () => box.open(text, OWNER),
        secretsError(SecretsErrorCodes.SECRETS_MALFORMED),
        text,
      );
    }
  });

  it('never opens an envelope edited character by character', () => {
    const box = newBox();
    const envelope = box.seal('edited', OWNER);
    const alphabet = 'Aa0_-"{}:,';
    for (let i = 0; i < envelope.length; i++) {
      for (const c of alphabet) {
        if (envelope[i] === c) continue;
        const edited = envelope.slice(0, i) + c + envelope.slice(i + 1);
        assert.throws(() => box.open(edited, OWNER), SecretsError);
      }
    }
  });

  it('refuses text UTF-8 cannot carry unchanged', () => {
    const box = newBox();
    assert.throws(
      () => box.seal('a\uD800b', OWNER),
      secretsError(SecretsErrorCodes.SECRETS_INVALID_TEXT),
    );
    assert.throws(
      () => box.seal('ok', 'owner\uDC00'),
      secretsError(SecretsErrorCodes.SECRETS_INVALID_TEXT),
    );
  });

  it('does not show the master key when the key or the box is logged', () => {
    const bytes = randomBytes(32);
    const key = masterKeyFromBytes(bytes);
    const box = new SecretBox(key);
    for (const text of [
      inspect(key, { depth: 10 }),
      JSON.stringify(key),
      inspect(box),
      JSON.stringify(box),
    ]) {
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        assert.ok(!text.includes(bytes.toString(encoding)), text);
      }
    }
    assert.ok(Object.isFrozen(key));
  });

  it('refuses a master key that is not 32 bytes', () => {
    assert.throws(
      () => masterKeyFromBytes(randomBytes(16)),
      secretsError(SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY),
    );
  });
});
