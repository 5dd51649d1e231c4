import { randomUUID } from 'node:crypto';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import type { SshKey } from './model.js';
import { parsePublicKey } from './parse.js';

/** What the keys service needs from the store. */
export interface KeysState {
  /** Inserts the key unless its fingerprint is stored already: false then. */
  insert(key: SshKey): Promise<boolean>;
  ofUser(userId: string): Promise<SshKey[]>;
  byFingerprint(fingerprint: string): Promise<SshKey | undefined>;
  /** Deletes the key (of `ownerId` only, when given); false when there is no such key. */
  remove(id: string, ownerId: string | undefined): Promise<boolean>;
}

export interface KeysServiceOptions {
  readonly state: KeysState;
  readonly clock?: () => Date;
}

/** Who is asking, as far as keys care. identity's Principal satisfies it. */
export interface KeyOwner {
  readonly userId: string;
  readonly isAdmin: boolean;
}

/** How many keys one user may hold. */
export const MAX_KEYS_PER_USER = 100;
const MAX_NAME = 100;

/**
 * Users' SSH public keys, for git over SSH. A key is its owner's alone: the same key (by
 * fingerprint) cannot be added twice, by the same or another user, so a key names one user.
 */
export class KeysService {
  readonly #state: KeysState;
  readonly #clock: () => Date;

  constructor(options: KeysServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Adds an authorized_keys line to the owner's keys. The name defaults to the line's comment.
   * InputError KEY_INVALID for a bad line or a private key; ConflictError KEY_EXISTS when the
   * key is stored already.
   */
  async add(owner: KeyOwner, input: { name?: string; publicKey: string }): Promise<SshKey> {
    const parsed = parsePublicKey(input.publicKey);
    const name = (input.name ?? parsed.comment).trim();
    if (name === '' || name.length > MAX_NAME || /[\p{Cc}]/u.test(name))
      throw new InputError(
        `a key name is 1 to ${MAX_NAME} printable characters`,
        ErrorCodes.INVALID_NAME,
      );
    if ((await this.#state.ofUser(owner.userId)).length >= MAX_KEYS_PER_USER)
      throw new InputError(
        `a user holds at most ${MAX_KEYS_PER_USER} keys`,
        ErrorCodes.KEY_INVALID,
      );
    const key: SshKey = {
      id: randomUUID(),
      userId: owner.userId,
      name,
      type: parsed.type,
      publicKey: parsed.publicKey,
      fingerprint: parsed.fingerprint,
      createdAt: this.#clock().toISOString(),
    };
    if (!(await this.#state.insert(key)))
      throw new ConflictError(
        `the key ${parsed.fingerprint} is added already`,
        ErrorCodes.KEY_EXISTS,
      );
    return key;
  }

  /** The owner's keys, oldest first. */
  list(owner: KeyOwner): Promise<SshKey[]> {
    return this.#state.ofUser(owner.userId);
  }

  /** Removes one of the owner's keys (admins: anyone's); NotFoundError KEY_NOT_FOUND else. */
  async remove(owner: KeyOwner, id: string): Promise<void> {
    const removed = await this.#state.remove(id, owner.isAdmin ? undefined : owner.userId);
    if (!removed) throw new NotFoundError('key not found', ErrorCodes.KEY_NOT_FOUND);
  }

  /** The key with this fingerprint (SSH authentication), if any. */
  byFingerprint(fingerprint: string): Promise<SshKey | undefined> {
    return this.#state.byFingerprint(fingerprint);
  }
}
