import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  loadOrCreateMasterKey,
  MASTER_KEY_ENV,
  MASTER_KEY_FILE,
  SecretBox,
  SecretsError,
  SecretsErrorCodes,
  type SecretsErrorCode,
} from '../../src/secrets/index.js';

const run = promisify(execFile);

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function secretsError(code: SecretsErrorCode, ...secrets: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof SecretsError, `expected a SecretsError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const secret of secrets) assert.ok(!error.message.includes(secret), error.message);
    return true;
  };
}

describe('master key file', () => {
  it('is created on first start: 0600, 32 random bytes in base64', () => {
    const dataDir = path.join(tempDir(), 'data');
    const key = loadOrCreateMasterKey({ dataDir, env: {} });
    const file = path.join(dataDir, MASTER_KEY_FILE);
    assert.deepEqual(key.source, { kind: 'file', path: file, created: true });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
    const bytes = Buffer.from(text.trim(), 'base64');
    assert.equal(bytes.length, 32);
    assert.ok(key.key.export().equals(bytes));
    assert.ok(Object.isFrozen(key) && Object.isFrozen(key.source));
    // Only the key file: the temp file it was written through is gone.
    assert.deepEqual(readdirSync(dataDir), [MASTER_KEY_FILE]);
  });

  it('is reused on the next start, and opens what the first start sealed', () => {
    const dataDir = tempDir();
    const first = loadOrCreateMasterKey({ dataDir, env: {} });
    const envelope = new SecretBox(first).seal('kept', 'owner');
    const before = readFileSync(path.join(dataDir, MASTER_KEY_FILE), 'utf8');
    const second = loadOrCreateMasterKey({ dataDir, env: {} });
    assert.equal(second.id, first.id);
    assert.equal(second.source.kind === 'file' && second.source.created, false);
    assert.equal(readFileSync(path.join(dataDir, MASTER_KEY_FILE), 'utf8'), before);
    assert.equal(new SecretBox(second).open(envelope, 'owner'), 'kept');
  });

  it('is refused when group or others may read or write it, and left as it is', () => {
    const dataDir = tempDir();
    loadOrCreateMasterKey({ dataDir, env: {} });
    const file = path.join(dataDir, MASTER_KEY_FILE);
    const text = readFileSync(file, 'utf8');
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
      chmodSync(file, mode);
      assert.throws(
        () => loadOrCreateMasterKey({ dataDir, env: {} }),
        (error: unknown) => {
          secretsError(SecretsErrorCodes.SECRETS_INSECURE_MASTER_KEY, text.trim())(error);
          assert.ok((error as Error).message.includes(`chmod 600 ${file}`));
          return true;
        },
      );
      assert.equal(readFileSync(file, 'utf8'), text);
    }
    chmodSync(file, 0o400);
    assert.doesNotThrow(() => loadOrCreateMasterKey({ dataDir, env: {} }));
  });

  it('is refused, never replaced, when it does not hold 32 bytes', () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, MASTER_KEY_FILE);
    for (const text of [
      '',
      'short',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
    ]) {
      writeFileSync(file, text, { mode: 0o600 });
      assert.throws(
        () => loadOrCreateMasterKey({ dataDir, env: {} }),
        secretsError(SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY),
      );
      assert.equal(readFileSync(file, 'utf8'), text);
    }
  });

  it('is refused when it is not a file', () => {
    const dataDir = tempDir();
    mkdirSync(path.join(dataDir, MASTER_KEY_FILE), { mode: 0o700 });
    assert.throws(
      () => loadOrCreateMasterKey({ dataDir, env: {} }),
      secretsError(SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY),
    );
  });

  it('is created once when several processes start at the same moment', async () => {
    for (let round = 0; round < 3; round++) {
      const dataDir = path.join(tempDir(), 'data');
      const script = fileURLToPath(new URL('./load-master-key-process.ts', import.meta.url));
      const startAt = Date.now() + 1_500;
      const outputs = await Promise.all(
        Array.from({ length: 6 }, () =>
          run(process.execPath, ['--import', 'tsx', script, dataDir, String(startAt)]),
        ),
      );
      const results = outputs.map(
        (o) => JSON.parse(o.stdout) as { readonly id: string; readonly created: boolean },
      );
      const key = loadOrCreateMasterKey({ dataDir, env: {} });
      assert.deepEqual(new Set(results.map((r) => r.id)), new Set([key.id]));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.deepEqual(readdirSync(dataDir), [MASTER_KEY_FILE]);
    }
  });
});

describe(`master key from ${MASTER_KEY_ENV}`, () => {
  const bytes = randomBytes(32);
  const forms = {
    hex: bytes.toString('hex'),
    'upper-case hex': bytes.toString('hex').toUpperCase(),
    base64: bytes.toString('base64'),
    'unpadded base64': bytes.toString('base64').replace(/=$/, ''),
    base64url: bytes.toString('base64url'),
    'base64 with a newline': `${bytes.toString('base64')}\n`,
  };

  for (const [form, value] of Object.entries(forms)) {
    it(`is used as ${form}, and no file is made`, () => {
      const dataDir = tempDir();
      const key = loadOrCreateMasterKey({ dataDir, env: { [MASTER_KEY_ENV]: value } });
      assert.ok(key.key.export().equals(bytes));
      assert.deepEqual(key.source, { kind: 'environment', variable: MASTER_KEY_ENV });
      assert.deepEqual(readdirSync(dataDir), []);
    });
  }

  it('wins over an existing master.key', () => {
    const dataDir = tempDir();
    const fromFile = loadOrCreateMasterKey({ dataDir, env: {} });
    const fromEnv = loadOrCreateMasterKey({
      dataDir,
      env: { [MASTER_KEY_ENV]: bytes.toString('hex') },
    });
    assert.notEqual(fromEnv.id, fromFile.id);
    assert.equal(fromEnv.source.kind, 'environment');
  });

  it('is refused, without repeating it, unless it is 32 bytes in hex or base64', () => {
    const dataDir = tempDir();
    const bad = [
      '',
      'hunter2hunter2',
      randomBytes(31).toString('hex'),
      randomBytes(33).toString('hex'),
      randomBytes(16).toString('base64'),
      randomBytes(48).toString('base64'),
      `${bytes.toString('hex')}00`,
      `${bytes.toString('base64').slice(0, 42)}!=`,
    ];
    for (const value of bad) {
      assert.throws(
        () => loadOrCreateMasterKey({ dataDir, env: { [MASTER_KEY_ENV]: value } }),
        (error: unknown) => {
          secretsError(SecretsErrorCodes.SECRETS_INVALID_MASTER_KEY)(error);
          const message = (error as Error).message;
          if (value.length > 0) assert.ok(!message.includes(value), message);
          assert.ok(message.includes(MASTER_KEY_ENV), message);
          return true;
        },
        JSON.stringify(value),
      );
    }
    assert.deepEqual(readdirSync(dataDir), []);
  });
});
