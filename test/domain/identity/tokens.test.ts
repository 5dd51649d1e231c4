import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  ErrorCodes,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnauthenticatedError,
} from '../../../src/errors/index.js';
import {
  LAST_USED_RESOLUTION_MS,
  LOGIN_TOKEN_LIFETIME_MS,
  type Principal,
} from '../../../src/domain/identity/index.js';
import { backends } from '../../support/databases.js';
import { bearer, openIdentity, rejectsWith, type IdentityFixture } from './fixtures.js';

const PASSWORD = 'correct horse battery';

/** Creates the user and logs in; returns the login token and its principal. */
async function signIn(
  fixture: IdentityFixture,
  username: string,
  isAdmin = false,
): Promise<{ token: string; principal: Principal }> {
  await fixture.identity.createUser({ username, password: PASSWORD, isAdmin });
  const { token } = await fixture.identity.login({
    username,
    password: PASSWORD,
    remoteAddress: '127.0.0.1',
  });
  return { token, principal: await fixture.identity.authenticate(bearer(token)) };
}

async function lastUsedAt(fixture: IdentityFixture, tokenId: string): Promise<string | null> {
  const row = await fixture.store.db
    .selectFrom('api_tokens')
    .select('last_used_at')
    .where('id', '=', tokenId)
    .executeTakeFirstOrThrow();
  return row.last_used_at;
}

for (const backend of backends) {
  describe(`identity: tokens on ${backend}`, () => {
    it('refuses missing, malformed and unknown tokens, each with its code', async () => {
      const fixture = await openIdentity(backend);
      const { identity } = fixture;
      const { token } = await signIn(fixture, 'alice');
      for (const header of [undefined, '', '   ']) {
        await rejectsWith(
          identity.authenticate(header),
          UnauthenticatedError,
          ErrorCodes.UNAUTHENTICATED,
        );
      }
      const unknown = `berth_${Buffer.alloc(32, 7).toString('base64url')}`;
      for (const header of [
        'Bearer',
        'Bearer nope',
        `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
        `Bearer ${token} extra`,
        `Bearer ${token.slice(0, -1)}`,
        `Bearer ${token}x`,
        `Bearer ${unknown}`,
      ]) {
        await rejectsWith(
          identity.authenticate(header),
          UnauthenticatedError,
          ErrorCodes.TOKEN_INVALID,
        );
      }
      await rejectsWith(
        identity.authenticateToken(unknown),
        UnauthenticatedError,
        ErrorCodes.TOKEN_INVALID,
      );
      // The scheme is case-insensitive (RFC 9110); spaces around the value are tolerated.
      assert.equal((await identity.authenticate(`bearer  ${token} `)).username, 'alice');
      assert.equal((await identity.authenticateToken(token)).username, 'alice');
    });

    it('refuses a revoked token and an expired one', async () => {
      const fixture = await openIdentity(backend);
      const { identity, clock } = fixture;
      const { token, principal } = await signIn(fixture, 'alice');
      const shortLived = await identity.createToken(principal, {
        name: 'ci',
        scopes: ['read'],
        expiresAt: new Date(clock.now().getTime() + 3_600_000),
      });
      await identity.authenticate(bearer(shortLived.token));
      clock.advance(3_600_000);
      await rejectsWith(
        identity.authenticate(bearer(shortLived.token)),
        UnauthenticatedError,
        ErrorCodes.TOKEN_EXPIRED,
      );

      clock.advance(LOGIN_TOKEN_LIFETIME_MS - 3_600_000 - 1);
      await identity.authenticate(bearer(token));
      clock.advance(1);
      await rejectsWith(
        identity.authenticate(bearer(token)),
        UnauthenticatedError,
        ErrorCodes.TOKEN_EXPIRED,
      );

      const fresh = await identity.createToken(principal, { name: 'fresh', scopes: ['read'] });
      await identity.revokeToken(principal, fresh.id);
      await rejectsWith(
        identity.authenticate(bearer(fresh.token)),
        UnauthenticatedError,
        ErrorCodes.TOKEN_REVOKED,
      );
    });

    it('stores no token and no password in plain text', async () => {
      const fixture = await openIdentity(backend);
      const { identity, store, location } = fixture;
      const admin = await identity.ensureAdmin({ dataDir: location.dataDir });
      assert.ok(admin.created);
      const { token, principal } = await signIn(fixture, 'alice');
      const created = await identity.createToken(principal, { name: 'ci', scopes: ['read'] });
      const tokens = [admin.token, token, created.token];

      const tokenRows = await store.db.selectFrom('api_tokens').selectAll().execute();
      const userRows = await store.db.selectFrom('users').selectAll().execute();
      const dump = JSON.stringify([tokenRows, userRows]);
      for (const t of tokens) {
        assert.match(t, /^berth_[A-Za-z0-9_-]{43}$/);
        assert.ok(!dump.includes(t), 'a token is stored in plain text');
        assert.ok(!dump.includes(t.slice('berth_'.length)), 'a token body is stored');
      }
      assert.ok(!dump.includes(PASSWORD), 'a password is stored in plain text');
      const hashes = tokenRows.map((r) => r.token_hash).sort();
      const expected = tokens.map((t) => createHash('sha256').update(t).digest('hex')).sort();
      assert.deepEqual(hashes, expected);
    });

    it('creates tokens with the scopes asked for, and no more than the creator holds', async () => {
      const fixture = await openIdentity(backend);
      const { identity, clock } = fixture;
      const { principal } = await signIn(fixture, 'alice');
      const expiresAt = new Date(clock.now().getTime() + 86_400_000).toISOString();
      const created = await identity.createToken(principal, {
        name: 'deploy bot',
        scopes: ['write', 'read'],
        expiresAt,
      });
      assert.deepEqual(created.scopes, ['read', 'write']);
      assert.equal(created.name, 'deploy bot');
      assert.equal(created.expiresAt, expiresAt);
      assert.equal(created.createdAt, clock.now().toISOString());
      const readOnly = await identity.authenticate(bearer(created.token));
      assert.deepEqual([...readOnly.scopes].sort(), ['read', 'write']);

      await rejectsWith(
        identity.createToken(principal, { name: 'escalate', scopes: ['read', 'admin'] }),
        ForbiddenError,
        ErrorCodes.SCOPE_REQUIRED,
      );
      await rejectsWith(
        identity.createToken(readOnly, { name: 'escalate', scopes: ['delete'] }),
        ForbiddenError,
        ErrorCodes.SCOPE_REQUIRED,
      );
      await identity.createToken(readOnly, { name: 'narrower', scopes: ['read'] });
    });

    it('refuses bad token names, scopes and expiry times', async () => {
      const fixture = await openIdentity(backend);
      const { identity, clock } = fixture;
      const { principal } = await signIn(fixture, 'alice');
      for (const name of ['', '   ', 'x'.repeat(65), 'tab\there', 'line\nbreak', 'nul\0']) {
        await rejectsWith(
          identity.createToken(principal, { name, scopes: ['read'] }),
          InputError,
          ErrorCodes.INVALID_NAME,
        );
      }
      await identity.createToken(principal, { name: 'é'.repeat(64), scopes: ['read'] });
      for (const scopes of [[], ['root'], ['read', 'read'], ['READ']]) {
        await rejectsWith(
          identity.createToken(principal, { name: 'ci', scopes }),
          InputError,
          ErrorCodes.INVALID_INPUT,
        );
      }
      const now = clock.now();
      for (const expiresAt of [
        now,
        new Date(now.getTime() - 1),
        'tomorrow',
        '2020-01-01T00:00:00Z',
        new Date(NaN),
      ]) {
        await rejectsWith(
          identity.createToken(principal, { name: 'ci', scopes: ['read'], expiresAt }),
          InputError,
          ErrorCodes.INVALID_INPUT,
        );
      }
      const later = await identity.createToken(principal, {
        name: 'ci',
        scopes: ['read'],
        expiresAt: '2031-06-01T12:00:00+02:00',
      });
      assert.equal(later.expiresAt, '2031-06-01T10:00:00.000Z');
    });

    it("lists and revokes one's own tokens; others' tokens are not found", async () => {
      const fixture = await openIdentity(backend);
      const { identity, clock, location } = fixture;
      const alice = await signIn(fixture, 'alice');
      clock.advance(1000);
      const ci = await identity.createToken(alice.principal, { name: 'ci', scopes: ['read'] });
      const bob = await signIn(fixture, 'bob');

      const listed = await identity.listTokens(alice.principal);
      assert.deepEqual(
        listed.map((t) => t.name),
        ['ci', 'login'],
      );
      for (const t of listed) {
        assert.deepEqual(Object.keys(t).sort(), [
          'createdAt',
          'expiresAt',
          'id',
          'lastUsedAt',
          'name',
          'revokedAt',
          'scopes',
        ]);
      }
      assert.deepEqual(listed[0]?.scopes, ['read']);
      assert.equal(listed[0]?.revokedAt, null);

      await rejectsWith(
        identity.revokeToken(bob.principal, ci.id),
        NotFoundError,
        ErrorCodes.TOKEN_NOT_FOUND,
      );
      await rejectsWith(
        identity.revokeToken(alice.principal, 'no-such-token'),
        NotFoundError,
        ErrorCodes.TOKEN_NOT_FOUND,
      );
      await identity.authenticate(bearer(ci.token));

      clock.advance(1000);
      const revokedAt = clock.now().toISOString();
      await identity.revokeToken(alice.principal, ci.id);
      clock.advance(1000);
      await identity.revokeToken(alice.principal, ci.id);
      const after = await identity.listTokens(alice.principal);
      assert.equal(after.find((t) => t.id === ci.id)?.revokedAt, revokedAt);
      assert.equal(after.find((t) => t.name === 'login')?.revokedAt, null);

      // An admin user holding a token without the admin scope acts as a plain user.
      const root = await signIn(fixture, 'root', true);
      const rootLimited = await identity.authenticate(
        bearer(
          (await identity.createToken(root.principal, { name: 'rw', scopes: ['read', 'delete'] }))
            .token,
        ),
      );
      const bobTokenId = bob.principal.tokenId;
      await rejectsWith(
        identity.revokeToken(rootLimited, bobTokenId),
        NotFoundError,
        ErrorCodes.TOKEN_NOT_FOUND,
      );
      const admin = await identity.ensureAdmin({ dataDir: location.dataDir });
      assert.ok(admin.created);
      await identity.revokeToken(await identity.authenticate(bearer(admin.token)), bobTokenId);
      await rejectsWith(
        identity.authenticate(bearer(bob.token)),
        UnauthenticatedError,
        ErrorCodes.TOKEN_REVOKED,
      );
    });

    it('writes last_used_at at most once a minute per token', async () => {
      const fixture = await openIdentity(backend);
      const { identity, clock } = fixture;
      await identity.createUser({ username: 'alice', password: PASSWORD });
      const { token, tokenId } = await identity.login({
        username: 'alice',
        password: PASSWORD,
        remoteAddress: '127.0.0.1',
      });
      assert.equal(await lastUsedAt(fixture, tokenId), null);
      const first = clock.now().toISOString();
      await identity.authenticate(bearer(token));
      assert.equal(await lastUsedAt(fixture, tokenId), first);

      clock.advance(LAST_USED_RESOLUTION_MS - 1);
      await Promise.all(Array.from({ length: 5 }, () => identity.authenticate(bearer(token))));
      assert.equal(await lastUsedAt(fixture, tokenId), first);

      clock.advance(1);
      const second = clock.now().toISOString();
      await Promise.all(Array.from({ length: 5 }, () => identity.authenticate(bearer(token))));
      assert.equal(await lastUsedAt(fixture, tokenId), second);
      const [listed] = await identity.listTokens(await identity.authenticate(bearer(token)));
      assert.equal(listed?.lastUsedAt, second);
    });
  });
}
