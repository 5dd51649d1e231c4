import { RateLimitedError } from '../../errors/index.js';

/**
 * How many failed logins are tolerated within the window. Limits are per source address and
 * per (username, address), so that a flood from one address cannot lock an account out from
 * everywhere else; the account-wide limit stops guesses spread over many addresses, and it
 * binds only addresses that have themselves failed on that username.
 */
export interface LoginLimits {
  readonly windowMs: number;
  /** Failures of one username from one address. */
  readonly maxFailuresPerUsernameAndAddress: number;
  /** Failures of any usernames from one address. */
  readonly maxFailuresPerAddress: number;
  /** Failures of one username from all addresses; an address that has not failed passes. */
  readonly maxFailuresPerUsername: number;
  /** The most keys tracked at once, per kind of key; bounds the memory. */
  readonly maxTrackedKeys: number;
}

/**
 * Within 15 minutes: 5 failures per username from one address, 20 per address, and 50 per
 * username (from addresses that have failed on it).
 */
export const defaultLoginLimits: LoginLimits = Object.freeze({
  windowMs: 15 * 60_000,
  maxFailuresPerUsernameAndAddress: 5,
  maxFailuresPerAddress: 20,
  maxFailuresPerUsername: 50,
  maxTrackedKeys: 10_000,
});

/** Longer names cannot exist; cutting them keeps an attacker from filling memory with keys. */
const MAX_KEY_LENGTH = 64;

/**
 * Failure times per key within a sliding window. Keys are kept in the order of their newest
 * failure (re-inserted on each one), which is also the order in which they expire: pruning
 * walks from the front and stops at the first live key, and when the map is full the key
 * touched longest ago goes first.
 */
class FailureWindow {
  readonly #failures = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;

  constructor(limit: number, windowMs: number, maxKeys: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#failures.size;
  }

  /** Failures of `key` within the window. */
  count(key: string, now: number): number {
    return this.#live(key, now).length;
  }

  /** How long until `key` may try again; 0 when it is under its limit. */
  blockedForMs(key: string, now: number): number {
    const live = this.#live(key, now);
    const oldest = live[0];
    if (live.length < this.#limit || oldest === undefined) return 0;
    return oldest + this.#windowMs - now;
  }

  add(key: string, at: number): void {
    const live = this.#live(key, at);
    this.#failures.delete(key);
    this.#prune(at);
    while (this.#failures.size >= this.#maxKeys) {
      const first = this.#failures.keys().next();
      if (first.done) break;
      this.#failures.delete(first.value);
    }
    live.push(at);
    this.#failures.set(key, live);
  }

  /** Takes back one failure counted at `at` (an attempt that did not fail after all). */
  remove(key: string, at: number): void {
    const failures = this.#failures.get(key);
    if (!failures) return;
    const index = failures.lastIndexOf(at);
    if (index >= 0) failures.splice(index, 1);
    if (failures.length === 0) this.#failures.delete(key);
  }

  clear(key: string): void {
    this.#failures.delete(key);
  }

  #live(key: string, now: number): number[] {
    const failures = this.#failures.get(key);
    if (!failures) return [];
    const since = now - this.#windowMs;
    while (failures[0] !== undefined && failures[0] <= since) failures.shift();
    if (failures.length === 0) this.#failures.delete(key);
    return failures;
  }

  #prune(now: number): void {
    const since = now - this.#windowMs;
    for (const [key, failures] of this.#failures) {
      const newest = failures.at(-1);
      if (newest !== undefined && newest > since) break;
      this.#failures.delete(key);
    }
  }
}

/** A login attempt admitted by the limiter; it counts as a failure until it is settled. */
export interface LoginAttempt {
  /** The password was right: this address's failures on the username are forgiven. */
  succeeded(): void;
  /** The attempt ended without a verdict (the store failed): it does not count. */
  abandoned(): void;
}

/**
 * In-memory, per-controller limits on failed logins. An attempt is counted as a failure when
 * it is admitted, before the password is checked, so that concurrent guesses cannot all pass
 * the check before any of them has failed.
 */
export class LoginLimiter {
  readonly #byPair: FailureWindow;
  readonly #byAddress: FailureWindow;
  readonly #byUsername: FailureWindow;

  constructor(limits: LoginLimits) {
    const window = (limit: number) =>
      new FailureWindow(limit, limits.windowMs, limits.maxTrackedKeys);
    this.#byPair = window(limits.maxFailuresPerUsernameAndAddress);
    this.#byAddress = window(limits.maxFailuresPerAddress);
    this.#byUsername = window(limits.maxFailuresPerUsername);
  }

  /** How many keys of each kind are tracked (for tests of the memory bound). */
  get trackedKeys(): {
    readonly usernames: number;
    readonly addresses: number;
    readonly pairs: number;
  } {
    return {
      usernames: this.#byUsername.size,
      addresses: this.#byAddress.size,
      pairs: this.#byPair.size,
    };
  }

  /**
   * Admits an attempt, or throws RateLimitedError when the address, the username from this
   * address, or (for an address that has failed on it) the username is at its limit.
   */
  begin(username: string, address: string, now: number): LoginAttempt {
    const user = username.slice(0, MAX_KEY_LENGTH);
    const addr = address.slice(0, MAX_KEY_LENGTH);
    // A newline is in neither a username nor an address, so pairs cannot collide.
    const pair = `${user}\n${addr}`;
    const hasFailedHere = this.#byPair.count(pair, now) > 0;
    const waitMs = Math.max(
      this.#byPair.blockedForMs(pair, now),
      this.#byAddress.blockedForMs(addr, now),
      hasFailedHere ? this.#byUsername.blockedForMs(user, now) : 0,
    );
    if (waitMs > 0) {
      throw new RateLimitedError(
        'too many failed login attempts; try again later',
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    }
    this.#byPair.add(pair, now);
    this.#byAddress.add(addr, now);
    this.#byUsername.add(user, now);
    return {
      // The pair is forgiven; the account-wide count keeps others' failures, so the owner's
      // login does not reset a guesser spread over many addresses.
      succeeded: () => {
        this.#byPair.clear(pair);
        this.#byAddress.remove(addr, now);
        this.#byUsername.remove(user, now);
      },
      abandoned: () => {
        this.#byPair.remove(pair, now);
        this.#byAddress.remove(addr, now);
        this.#byUsername.remove(user, now);
      },
    };
  }
}
