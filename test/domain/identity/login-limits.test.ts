import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, RateLimitedError, UnauthenticatedError } from '../../../src/errors/index.js';
import { LoginLimiter } from '../../../src/domain/identity/login-limiter.js';
import { defaultLoginLimits } from '../../../src/domain/identity/index.js';
import { backends } from '../../support/databases.js';
import { openIdentity, rejectsWith } from './fixtures.js';

const PASSWORD = 'correct horse battery';
const WINDOW_MS = 15 * 60_000;

function rateLimited(retryAfterSeconds?: number) {
  return (error: unknown) => {
    assert.ok(error instanceof RateLimitedError, `expected RateLimitedError, got ${String(error)}`);
    assert.equal(error.code, ErrorCodes.RATE_LIMITED);
    if (retryAfterSeconds !== undefined) assert.equal(error.retryAfterSeconds, retryAfterSeconds);
    return true;
  };
}

for (const backend of backends) {
  describe(`identity: login rate limits on ${backend}`, () => {
    it('allows 5 failures per username from one address, which then gets 429 for the right password', async () => {
      const { identity, clock } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      for (let i = 0; i < 5; i++) {
        await rejectsWith(
          identity.login({ username: 'alice', password: 'wrong one!', remoteAddress: '10.6.6.6' }),
          UnauthenticatedError,
          ErrorCodes.LOGIN_FAILED,
        );
      }
      await assert.rejects(
        identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.6.6.6' }),
        rateLimited(900),
      );
      // The owner, from anywhere else, is not locked out; nor is another user from there.
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.9.9.9' });
      await identity.createUser({ username: 'bob', password: PASSWORD });
      await identity.login({ username: 'bob', password: PASSWORD, remoteAddress: '10.6.6.6' });

      clock.advance(WINDOW_MS - 1000);
      await assert.rejects(
        identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.6.6.6' }),
        rateLimited(1),
      );
      clock.advance(1000);
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.6.6.6' });
    });

    it('stops guesses spread over addresses at 50 per username, sparing addresses that never failed', async () => {
      const { identity } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      for (let i = 0; i < 50; i++) {
        await rejectsWith(
          identity.login({
            username: 'alice',
            password: 'wrong one!',
            remoteAddress: `10.2.${i >> 2}.${i & 3}`,
          }),
          UnauthenticatedError,
          ErrorCodes.LOGIN_FAILED,
        );
      }
      // An address that guessed once (of the 4 it may) is now refused, even the right password.
      await assert.rejects(
        identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.2.0.0' }),
        rateLimited(),
      );
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.9.9.9' });
    });

    it('allows 20 failures per remote address, whatever the usernames', async () => {
      const { identity, clock } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      for (let i = 0; i < 20; i++) {
        await rejectsWith(
          identity.login({ username: `ghost-${i}`, password: PASSWORD, remoteAddress: '10.0.0.1' }),
          UnauthenticatedError,
          ErrorCodes.LOGIN_FAILED,
        );
        clock.advance(1000);
      }
      await assert.rejects(
        identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' }),
        rateLimited(WINDOW_MS / 1000 - 20),
      );
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.2' });

      // The oldest failure leaves the window first, freeing one attempt.
      clock.advance(WINDOW_MS - 20_000);
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' });
      clock.advance(WINDOW_MS);
      for (let i = 0; i < 3; i++) {
        await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' });
      }
    });

    it("forgets the username's failures after a successful login", async () => {
      const { identity } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      const fail = () =>
        rejectsWith(
          identity.login({ username: 'alice', password: 'wrong one!', remoteAddress: '10.0.0.1' }),
          UnauthenticatedError,
          ErrorCodes.LOGIN_FAILED,
        );
      for (let i = 0; i < 4; i++) await fail();
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' });
      for (let i = 0; i < 4; i++) await fail();
      await identity.login({ username: 'alice', password: PASSWORD, remoteAddress: '10.0.0.1' });
    });

    it('counts concurrent guesses before any of them is checked', async () => {
      const { identity } = await openIdentity(backend);
      await identity.createUser({ username: 'alice', password: PASSWORD });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          identity.login({ username: 'alice', password: `guess ${i}!`, remoteAddress: '10.1.0.1' }),
        ),
      );
      const codes = outcomes.map((o) =>
        o.status === 'rejected' ? (o.reason as { code: string }).code : 'ok',
      );
      assert.equal(codes.filter((c) => c === ErrorCodes.LOGIN_FAILED).length, 5);
      assert.equal(codes.filter((c) => c === ErrorCodes.RATE_LIMITED).length, 7);
    });
  });
}

describe('identity: login limiter memory', () => {
  it('keeps at most maxTrackedKeys usernames, addresses and pairs', () => {
    const limiter = new LoginLimiter({ ...defaultLoginLimits, maxTrackedKeys: 50 });
    for (let i = 0; i < 1000; i++) limiter.begin(`user-${i}`, `10.0.${i >> 8}.${i & 255}`, i);
    assert.deepEqual(limiter.trackedKeys, { usernames: 50, addresses: 50, pairs: 50 });
  });

  it('drops keys whose failures have left the window', () => {
    const limiter = new LoginLimiter({ ...defaultLoginLimits, windowMs: 1000 });
    for (let i = 0; i < 100; i++) limiter.begin(`user-${i}`, `10.0.0.${i}`, 0);
    limiter.begin('late', '10.9.9.9', 5000);
    assert.deepEqual(limiter.trackedKeys, { usernames: 1, addresses: 1, pairs: 1 });
  });

  it('does not count an attempt abandoned for a store failure', () => {
    const limiter = new LoginLimiter({
      ...defaultLoginLimits,
      maxFailuresPerUsernameAndAddress: 1,
    });
    limiter.begin('alice', '10.0.0.1', 0).abandoned();
    limiter.begin('alice', '10.0.0.1', 0);
    assert.throws(() => limiter.begin('alice', '10.0.0.1', 0), RateLimitedError);
  });

  it('cuts very long usernames so they cannot fill memory', () => {
    const limiter = new LoginLimiter({
      ...defaultLoginLimits,
      maxFailuresPerUsernameAndAddress: 1,
    });
    limiter.begin('x'.repeat(100_000), '10.0.0.1', 0);
    assert.throws(() => limiter.begin('x'.repeat(200_000), '10.0.0.1', 0), RateLimitedError);
  });
});
