import { RateLimitedError } from '../../errors/index.js';

/** How many failed logins are tolerated, per username and per remote address. */
export interface LoginLimits {
  readonly windowMs: number;
  readonly maxFailuresPerUsername: number;
  readonly maxFailuresPerAddress: number;
  /** The most usernames (and, separately, addresses) tracked at once; bounds the memory. */
  readonly maxTrackedKeys: number;
}

/** 5 failures per username and 20 per address within 15 minutes. */
export const defaultLoginLimits: LoginLimits = Object.freeze({
  windowMs: 15 * 60_000,
  maxFailuresPerUsername: 5,
  maxFailuresPerAddress: 20,
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
  /** The password was right: the username's failures are forgiven. */
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
  readonly #byUsername: FailureWindow;
  readonly #byAddress: FailureWindow;

  constructor(limits: LoginLimits) {
    this.#byUsername = new FailureWindow(
      limits.maxFailuresPerUsername,
      limits.windowMs,
      limits.maxTrackedKeys,
    );
    this.#byAddress = new FailureWindow(
      limits.maxFailuresPerAddress,
      limits.windowMs,
      limits.maxTrackedKeys,
    );
  }

  /** How many usernames and addresses are tracked (for tests of the memory bound). */
  get trackedKeys(): { readonly usernames: number; readonly addresses: number } {
    return { usernames: this.#byUsername.size, addresses: this.#byAddress.size };
  }

  /** Admits an attempt, or throws RateLimitedError when the username or address is at its limit. */
  begin(username: string, address: string, now: number): LoginAttempt {
    const user = username.slice(0, MAX_KEY_LENGTH);
    const addr = address.slice(0, MAX_KEY_LENGTH);
    const waitMs = Math.max(
      this.#byUsername.blockedForMs(user, now),
      this.#byAddress.blockedForMs(addr, now),
    );
    if (waitMs > 0) {
      throw new RateLimitedError(
        'too many failed login attempts; try again later',
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    }
    this.#byUsername.add(user, now);
    this.#byAddress.add(addr, now);
    return {
      succeeded: () => {
        this.#byUsername.clear(user);
        this.#byAddress.remove(addr, now);
      },
      abandoned: () => {
        this.#byUsername.remove(user, now);
        this.#byAddress.remove(addr, now);
      },
    };
  }
}
