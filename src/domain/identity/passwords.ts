import { randomBytes } from 'node:crypto';
import { argon2id, hash, needsRehash, verify } from 'argon2';

/** argon2id cost parameters. */
export interface PasswordHashing {
  /** KiB of memory per hash. */
  readonly memoryCost: number;
  /** Passes over the memory. */
  readonly timeCost: number;
  readonly parallelism: number;
}

/** OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane (~40 ms per hash here). */
export const defaultPasswordHashing: PasswordHashing = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

/** Hashes and verifies passwords with argon2id at the configured cost. */
export class PasswordHasher {
  readonly #params: PasswordHashing;
  #dummyHash: Promise<string> | undefined;

  constructor(params: PasswordHashing) {
    this.#params = Object.freeze({ ...params });
  }

  hash(password: string): Promise<string> {
    return hash(password, { type: argon2id, ...this.#params });
  }

  /**
   * Whether `password` matches `passwordHash`. Without a hash (no such user) it verifies
   * against a dummy hash of the same cost and returns false, so that an unknown user takes
   * as long as a wrong password. A hash that cannot be parsed is a mismatch, not an error.
   */
  async verify(passwordHash: string | undefined, password: string): Promise<boolean> {
    if (passwordHash === undefined) {
      try {
        await verify(await this.#dummy(), password);
      } catch {
        // Still a mismatch; the caller learns nothing more.
      }
      return false;
    }
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /** Whether a stored hash was made with other parameters than the current ones. */
  needsRehash(passwordHash: string): boolean {
    try {
      return needsRehash(passwordHash, this.#params);
    } catch {
      return true;
    }
  }

  #dummy(): Promise<string> {
    // Made once, lazily: a constructor cannot await, and most controllers never need it.
    this.#dummyHash ??= this.hash(randomBytes(32).toString('base64url')).catch((error: unknown) => {
      this.#dummyHash = undefined;
      throw error;
    });
    return this.#dummyHash;
  }
}
