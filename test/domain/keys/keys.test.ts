import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { KeysService, keysState, parsePublicKey } from '../../../src/domain/keys/index.js';
import {
  ConflictError,
  ErrorCodes,
  InputError,
  NotFoundError,
  type BerthError,
} from '../../../src/errors/index.js';
import type { Store } from '../../../src/store/index.js';
import { backends } from '../../support/databases.js';
import { openTestStore, TEST_USER_ID } from '../../support/stores.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh key pair made by ssh-keygen: its public line, private text and fingerprint. */
function keygen(type: string, name: string, bits?: number) {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', String(bits)] : []),
    '-N',
    '',
    '-C',
    `${name}@test`,
    '-f',
    file,
  ]);
  const fingerprint =
    execFileSync('ssh-keygen', ['-lf', `${file}.pub`], {
      encoding: 'utf8',
    }).split(' ')[1] ?? '';
  return {
    line: readFileSync(`${file}.pub`, 'utf8'),
    privateKey: readFileSync(file, 'utf8'),
    fingerprint,
  };
}

const ed = keygen('ed25519', 'ed');
const rsa = keygen('rsa', 'rsa', 2048);
const ecdsa = keygen('ecdsa', 'ecdsa', 256);

async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => BerthError,
  code: string,
) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

async function insertUser(store: Store, id: string) {
  const now = new Date().toISOString();
  await store.db
    .insertInto('users')
    .values({ id, username: id, password_hash: 'x', is_admin: 0, created_at: now, updated_at: now })
    .execute();
}

describe('keys: parsing authorized_keys lines', () => {
  it('reads ed25519, rsa and ecdsa keys with the fingerprint ssh-keygen prints', () => {
    for (const [key, type] of [
      [ed, 'ssh-ed25519'],
      [rsa, 'ssh-rsa'],
      [ecdsa, 'ecdsa-sha2-nistp256'],
    ] as const) {
      const parsed = parsePublicKey(key.line);
      assert.equal(parsed.type, type);
      assert.equal(parsed.fingerprint, key.fingerprint);
      assert.equal(parsed.publicKey, key.line.trim().split(' ').slice(0, 2).join(' '));
      assert.match(parsed.comment, /@test$/);
    }
  });

  it('refuses private keys without echoing them, bad lines and other types', () => {
    for (const bad of [
      ed.privateKey,
      '',
      'ssh-ed25519',
      'ssh-ed25519 not-base64!',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA',
      `${ed.line.trim()}\n${rsa.line.trim()}`,
      `command="ls" ${ed.line}`,
      `ssh-dss ${ed.line.split(' ')[1]}`,
      // An ed25519 blob claimed to be an RSA key.
      `ssh-rsa ${ed.line.split(' ')[1]}`,
    ]) {
      assert.throws(
        () => parsePublicKey(bad),
        (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.equal(error.code, ErrorCodes.KEY_INVALID);
          assert.ok(!error.message.includes('PRIVATE'), error.message);
          return true;
        },
        bad.slice(0, 40),
      );
    }
  });
});

for (const backend of backends) {
  describe(`keys on ${backend}`, () => {
    it('adds, lists, refuses duplicates (any user) and removes only its own', async () => {
      const { store } = await openTestStore(backend);
      await insertUser(store, 'u-other');
      const keys = new KeysService({ state: keysState(store) });
      const me = { userId: TEST_USER_ID, isAdmin: false };
      const other = { userId: 'u-other', isAdmin: false };

      const added = await keys.add(me, { name: 'laptop', publicKey: ed.line });
      assert.equal(added.fingerprint, ed.fingerprint);
      assert.equal(added.type, 'ssh-ed25519');
      const byComment = await keys.add(me, { publicKey: rsa.line });
      assert.equal(byComment.name, 'rsa@test');

      await rejectsWith(
        keys.add(me, { name: 'again', publicKey: ed.line }),
        ConflictError,
        ErrorCodes.KEY_EXISTS,
      );
      await rejectsWith(
        keys.add(other, { name: 'mine', publicKey: ed.line }),
        ConflictError,
        ErrorCodes.KEY_EXISTS,
      );
      await rejectsWith(
        keys.add(me, { name: 'p', publicKey: ed.privateKey }),
        InputError,
        ErrorCodes.KEY_INVALID,
      );
      await rejectsWith(
        keys.add(me, { name: ' ', publicKey: ecdsa.line }),
        InputError,
        ErrorCodes.INVALID_NAME,
      );

      assert.deepEqual((await keys.list(me)).map((k) => k.name).sort(), ['laptop', 'rsa@test']);
      assert.deepEqual(await keys.list(other), []);
      assert.equal((await keys.byFingerprint(ed.fingerprint))?.userId, TEST_USER_ID);

      await rejectsWith(keys.remove(other, added.id), NotFoundError, ErrorCodes.KEY_NOT_FOUND);
      await keys.remove(me, added.id);
      await rejectsWith(keys.remove(me, added.id), NotFoundError, ErrorCodes.KEY_NOT_FOUND);
      assert.equal(await keys.byFingerprint(ed.fingerprint), undefined);
      // Removed, the key may be added again (by anyone).
      await keys.add(other, { name: 'now mine', publicKey: ed.line });
      await keys.remove({ userId: 'u-admin', isAdmin: true }, byComment.id);
      assert.deepEqual(await keys.list(me), []);
    });
  });
}
