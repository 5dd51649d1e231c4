// Shared setup of the identity tests: a cheap argon2 cost, a clock the test moves, and a
// helper that checks a rejection's error class and stable code.
import assert from 'node:assert/strict';
import type { BerthError, ErrorCode } from '../../../src/errors/index.js';
import {
  IdentityService,
  type LoginLimits,
  type PasswordHashing,
} from '../../../src/domain/identity/index.js';
import type { Backend } from '../../support/databases.js';
import { openTestStore, type TestStore } from '../../support/stores.js';

/** Valid argon2id, ~1 ms a hash: the production cost would make these tests slow. */
export const fastHashing: PasswordHashing = Object.freeze({
  memoryCost: 1024,
  timeCost: 1,
  parallelism: 1,
});

/** A clock that only moves when the test moves it. */
export class TestClock {
  #now: number;

  constructor(start = Date.parse('2030-01-01T00:00:00.000Z')) {
    this.#now = start;
  }

  readonly now = (): Date => new Date(this.#now);

  advance(ms: number): void {
    this.#now += ms;
  }
}

export interface IdentityFixture extends TestStore {
  readonly identity: IdentityService;
  readonly clock: TestClock;
}

/** A fresh store on the backend with an IdentityService over it. */
export async function openIdentity(
  backend: Backend,
  options: { readonly loginLimits?: Partial<LoginLimits> } = {},
): Promise<IdentityFixture> {
  const opened = await openTestStore(backend);
  const clock = new TestClock();
  const identity = new IdentityService({
    store: opened.store,
    clock: clock.now,
    passwordHashing: fastHashing,
    ...(options.loginLimits ? { loginLimits: options.loginLimits } : {}),
  });
  return { ...opened, identity, clock };
}

/** Asserts that the promise rejects with an instance of `kind` carrying `code`. */
export async function rejectsWith(
  promise: Promise<unknown>,
  kind: abstract new (...args: never[]) => BerthError,
  code: ErrorCode,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}
