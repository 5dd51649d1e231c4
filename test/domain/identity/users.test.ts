import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError,
  ErrorCodes,
  InputError,
  NotFoundError,
  UnauthenticatedError,
} from '../../../src/errors/index.js';
import {
  IdentityService,
  LOGIN_TOKEN_LIFETIME_MS,
  LOGIN_TOKEN_NAME,
} from '../../../src/domain/identity/index.js';
import { backends } from '../../support/databases.js';
import { bearer, openIdentity, rejectsWith } from './fixtures.js';

const PASSWORD = 'correct horse battery';

for (const backend of backends) {
  describe(`identity: users and login on ${backend}`, () => {
    it('creates a user with an argon2id hash and shows it without the hash', async () => {
      const { identity, store, clock } = await openIdentity(backend);
      const user = await identity.createUser({ username: 'alice', password: PASSWORD });
      assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'id', 'isAdmin', 'username']);
      assert.equal(user.username, 'alice');
      assert.equal(user.isAdmin, false);
      assert.equal(user.createdAt, clock.now().toISOString());
      const row = await store.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
      assert.ok(!row.password_hash.includes(PASSWORD));
      assert.deepEqual(await identity.getUser(user.id), user);

      const admin = await identity.createUser({
        username: 'bob',
        password: PASSWORD,
        isAdmin: true,
      });
      assert.equal(admin.isAdmin, true);
      const names = (await identity.listUsers()).map((u) => u.username);
      assert.deepEqual(names, ['alice', 'bob', 'tester']);
    });

    it('refuses bad usernames and passwords', async () => {
      const { identity } = await openIdentity(backend);
      for (const username of ['', 'Alice', '1abc', '-abc', 'a_b', 'a'.repeat(40), 'ab c']) {
        await rejectsWith(
          identity.createUser({ username, password: PASSWORD }),
          InputError,
          ErrorCodes.INVALID_NAME,
        );
      }
      await identity.createUser({ username: 'a'.repeat(39), password: PASSWORD });
      await identity.createUser({ username: 'a-1', password: 'x'.repeat(12) });
      for (const password of [
        '',
        'short12',
        'x'.repeat(11),
        // Twelve characters of the common-passwords list, in any case.
        'qwerty123456',
        'QwErTy123456',
        'x'.repeat(1025),
        // 1,026 bytes in UTF-8, though only 513 characters.
        'é'.repeat(513),
      ]) {
        await rejectsWith(
          identity.createUser({ username: 'carol', password }),
          InputError,
          ErrorCodes.INVALID_INPUT,
        );
      }
      await identity.createUser({ username: 'carol', password: 'x'.repeat(1024) });
      await identity.createUser({ username: 'dave', password: 'é'.repeat(512) });
    });

    it('refuses a taken username', async () => {
      const { identity } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      await rejectsWith(
        identity.createUser({ username: 'alice', password: 'another password' }),
        ConflictError,
        ErrorCodes.USER_EXISTS,
      );
      assert.equal((await identity.listUsers()).filter((u) => u.username === 'alice').length, 1);
    });

    it('does not find an unknown user', async () => {
      const { identity } = await openIdentity(backend);
      await rejectsWith(identity.getUser('nope'), NotFoundError, ErrorCodes.USER_NOT_FOUND);
    });

    it('logs in with a 30-day login token; admins get the admin scope', async () => {
      const { identity, clock } = await openIdentity(backend);
      const alice = await identity.createUser({ username: 'alice', password: PASSWORD });
      await identity.createUser({ username: 'root', password: PASSWORD, isAdmin: true });

      const login = await identity.login({
        username: 'alice',
        password: PASSWORD,
        remoteAddress: '10.0.0.1',
      });
      assert.equal(
        login.expiresAt,
        new Date(clock.now().getTime() + LOGIN_TOKEN_LIFETIME_MS).toISOString(),
      );
      const principal = await identity.authenticate(bearer(login.token));
      assert.equal(principal.userId, alice.id);
      assert.equal(principal.tokenId, login.tokenId);
      assert.equal(principal.isAdmin, false);
      assert.deepEqual([...principal.scopes].sort(), ['delete', 'read', 'write']);
      const [listed] = await identity.listTokens(principal);
      assert.equal(listed?.name, LOGIN_TOKEN_NAME);

      const root = await identity.login({
        username: 'root',
        password: PASSWORD,
        remoteAddress: '10.0.0.1',
      });
      const rootPrincipal = await identity.authenticate(bearer(root.token));
      assert.deepEqual([...rootPrincipal.scopes].sort(), ['admin', 'delete', 'read', 'write']);
    });

    it('fails an unknown user and a wrong password alike', async () => {
      const { identity } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      const attempts = [
        { username: 'alice', password: 'wrong password' },
        { username: 'nobody', password: PASSWORD },
        { username: 'Not A Name', password: PASSWORD },
        // The support user's hash is not argon2 at all: still a plain failure.
        { username: 'tester', password: PASSWORD },
      ];
      for (const [i, attempt] of attempts.entries()) {
        await assert.rejects(
          identity.login({ ...attempt, remoteAddress: `10.0.0.${i}` }),
          (error: unknown) => {
            assert.ok(error instanceof UnauthenticatedError);
            assert.equal(error.code, ErrorCodes.LOGIN_FAILED);
            assert.equal(error.message, 'invalid username or password');
            return true;
          },
        );
      }
    });

    it('refuses a password over 1,024 bytes at login before hashing it, for any user', async () => {
      const { identity } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      for (const username of ['alice', 'nobody']) {
        for (const password of ['x'.repeat(900 * 1024), 'é'.repeat(600)]) {
          const started = Date.now();
          await rejectsWith(
            identity.login({ username, password, remoteAddress: '10.0.0.9' }),
            InputError,
            ErrorCodes.INVALID_INPUT,
          );
          assert.ok(Date.now() - started < 1000, 'slow to refuse');
        }
      }
      // Not counted as failures: the right password still logs in from that address.
      const ok = await identity.login({
        username: 'alice',
        password: PASSWORD,
        remoteAddress: '10.0.0.9',
      });
      assert.ok(ok.token);
    });

    it('upgrades a hash made with other cost parameters at the next login', async () => {
      const { identity, store, clock } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      const stronger = new IdentityService({
        store,
        clock: clock.now,
        passwordHashing: { memoryCost: 2048, timeCost: 2, parallelism: 1 },
      });
      await stronger.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' });
      const row = await store.db
        .selectFrom('users')
        .select('password_hash')
        .where('username', '=', 'alice')
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=2048,p=1,t=2\$/);
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' });
    });
  });
}
