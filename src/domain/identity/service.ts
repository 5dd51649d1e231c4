import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConflictError,
  ErrorCodes,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
} from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import { stageTokenFile } from './admin-token-file.js';
import { defaultLoginLimits, LoginLimiter, type LoginLimits } from './login-limiter.js';
import {
  Scopes,
  type CreatedToken,
  type CredentialRecord,
  type NewTokenRecord,
  type Principal,
  type Scope,
  type TokenInfo,
  type User,
  type UserRecord,
} from './model.js';
import { defaultPasswordHashing, PasswordHasher, type PasswordHashing } from './passwords.js';
import { IdentityStateSql } from './state.js';
import { generateToken, hashToken, looksLikeToken } from './tokens.js';
import {
  checkExpiry,
  checkNewPassword,
  checkPasswordSize,
  checkScopes,
  checkTokenName,
  checkUsername,
  USERNAME_PATTERN,
} from './validation.js';

/** What the identity rules need from storage (implemented by state.ts over the store). */
export interface IdentityState {
  userByUsername(username: string): Promise<UserRecord | undefined>;
  userById(id: string): Promise<UserRecord | undefined>;
  users(): Promise<UserRecord[]>;
  /** Inserts the user (and its first token) unless the username is taken: false then. */
  insertUser(user: UserRecord, firstToken?: NewTokenRecord): Promise<boolean>;
  updatePasswordHash(userId: string, passwordHash: string, at: string): Promise<void>;
  insertToken(token: NewTokenRecord): Promise<void>;
  credentialByTokenHash(tokenHash: string): Promise<CredentialRecord | undefined>;
  /** Sets last_used_at unless a use after `staleBefore` is recorded already. */
  markTokenUsed(tokenId: string, at: string, staleBefore: string): Promise<void>;
  tokensOfUser(userId: string): Promise<TokenInfo[]>;
  /** Revokes the token (of `ownerId` only, when given); false when there is no such token. */
  revokeToken(tokenId: string, ownerId: string | undefined, at: string): Promise<boolean>;
}

export interface IdentityServiceOptions {
  readonly store: Store;
  readonly clock?: () => Date;
  /** argon2id cost; defaults to OWASP's recommendation. Tests pass a small memoryCost. */
  readonly passwordHashing?: PasswordHashing;
  readonly loginLimits?: Partial<LoginLimits>;
}

/** The outcome of `ensureAdmin`: the token is there only when this call created the admin. */
export type AdminBootstrap =
  | { readonly created: true; readonly token: string; readonly tokenFile: string }
  | { readonly created: false };

/** The result of a successful login: a new token, shown this once. */
export interface LoginResult {
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: string;
}

export const ADMIN_USERNAME = 'admin';
export const INITIAL_ADMIN_TOKEN_NAME = 'initial-admin-token';
export const LOGIN_TOKEN_NAME = 'login';
export const LOGIN_TOKEN_LIFETIME_MS = 30 * 24 * 60 * 60_000;
/** last_used_at is written at most this often per token: reads stay reads. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const BEARER = /^Bearer +(\S+)$/i;

function invalidToken(): UnauthenticatedError {
  return new UnauthenticatedError('invalid token', ErrorCodes.TOKEN_INVALID);
}

function toUser(record: UserRecord): User {
  return {
    id: record.id,
    username: record.username,
    isAdmin: record.isAdmin,
    createdAt: record.createdAt,
  };
}

/**
 * Users, passwords, API tokens and authentication. Passwords are argon2id hashes; tokens are
 * opaque random strings stored only as SHA-256 hashes and shown once, when created.
 */
export class IdentityService {
  readonly #state: IdentityState;
  readonly #clock: () => Date;
  readonly #passwords: PasswordHasher;
  readonly #limiter: LoginLimiter;
  /** Tokens whose last_used_at is being written, so concurrent requests write once. */
  readonly #touching = new Set<string>();

  constructor(options: IdentityServiceOptions) {
    this.#state = new IdentityStateSql(options.store);
    this.#clock = options.clock ?? (() => new Date());
    this.#passwords = new PasswordHasher(options.passwordHashing ?? defaultPasswordHashing);
    this.#limiter = new LoginLimiter(
      Object.freeze({ ...defaultLoginLimits, ...options.loginLimits }),
    );
  }

  /**
   * On first start, creates the user `admin` (with a random password nobody knows) and a
   * token with every scope, written to `<dataDir>/initial-admin-token` (mode 0600) and
   * returned so that the server can print it once. Does nothing when `admin` exists. Of
   * controllers racing on one database exactly one creates it; the others see created: false.
   */
  async ensureAdmin({ dataDir }: { readonly dataDir: string }): Promise<AdminBootstrap> {
    if (await this.#state.userByUsername(ADMIN_USERNAME)) return { created: false };
    const now = this.#clock().toISOString();
    const admin: UserRecord = {
      id: randomUUID(),
      username: ADMIN_USERNAME,
      passwordHash: await this.#passwords.hash(randomBytes(32).toString('base64url')),
      isAdmin: true,
      createdAt: now,
      updatedAt: now,
    };
    const token = generateToken();
    const staged = await stageTokenFile(dataDir, token);
    let created: boolean;
    try {
      created = await this.#state.insertUser(admin, {
        id: randomUUID(),
        userId: admin.id,
        name: INITIAL_ADMIN_TOKEN_NAME,
        tokenHash: hashToken(token),
        scopes: [...Scopes].sort(),
        createdAt: now,
        expiresAt: null,
      });
    } catch (error) {
      await staged.discard();
      throw error;
    }
    if (!created) {
      await staged.discard();
      return { created: false };
    }
    return { created: true, token, tokenFile: await staged.publish() };
  }

  /** Creates a user. Throws InputError for a bad name or password, ConflictError if taken. */
  async createUser(input: {
    readonly username: string;
    readonly password: string;
    readonly isAdmin?: boolean;
  }): Promise<User> {
    checkUsername(input.username);
    checkNewPassword(input.password);
    const now = this.#clock().toISOString();
    const user: UserRecord = {
      id: randomUUID(),
      username: input.username,
      passwordHash: await this.#passwords.hash(input.password),
      isAdmin: input.isAdmin ?? false,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.#state.insertUser(user))) {
      throw new ConflictError(`user '${input.username}' already exists`, ErrorCodes.USER_EXISTS);
    }
    return toUser(user);
  }

  /**
   * Checks the password and issues a `login` token valid for 30 days with the scopes read,
   * write, delete (and admin for admins). An unknown user and a wrong password fail alike, in
   * message, code and time. Failed attempts are limited per remote address and per (username,
   * address), so one address's guesses do not lock the user out elsewhere (RateLimitedError,
   * checked before the password; see LoginLimits). A password over 1,024 bytes is refused
   * (InputError) before either.
   */
  async login(input: {
    readonly username: string;
    readonly password: string;
    readonly remoteAddress: string;
  }): Promise<LoginResult> {
    // Before the limiter and the hash: a password no user can have costs nothing.
    checkPasswordSize(input.password);
    const now = this.#clock();
    const attempt = this.#limiter.begin(input.username, input.remoteAddress, now.getTime());
    let user: UserRecord | undefined;
    let verified: boolean;
    try {
      user = USERNAME_PATTERN.test(input.username)
        ? await this.#state.userByUsername(input.username)
        : undefined;
      verified = await this.#passwords.verify(user?.passwordHash, input.password);
    } catch (error) {
      attempt.abandoned();
      throw error;
    }
    if (!verified || !user) {
      throw new UnauthenticatedError('invalid username or password', ErrorCodes.LOGIN_FAILED);
    }
    const scopes: Scope[] = user.isAdmin
      ? ['read', 'write', 'delete', 'admin']
      : ['read', 'write', 'delete'];
    const expiresAt = new Date(now.getTime() + LOGIN_TOKEN_LIFETIME_MS).toISOString();
    let issued: CreatedToken;
    try {
      issued = await this.#issueToken(user.id, LOGIN_TOKEN_NAME, scopes, now, { expiresAt });
    } catch (error) {
      attempt.abandoned();
      throw error;
    }
    attempt.succeeded();
    await this.#rehashIfOutdated(user, input.password);
    return { token: issued.token, tokenId: issued.id, expiresAt };
  }

  /**
   * The principal behind an `Authorization` header value (`Bearer <token>`). Throws
   * UnauthenticatedError: UNAUTHENTICATED when missing, TOKEN_INVALID when malformed or
   * unknown, TOKEN_REVOKED, TOKEN_EXPIRED.
   */
  authenticate(authorization: string | undefined): Promise<Principal> {
    const value = authorization?.trim() ?? '';
    if (value === '') {
      return Promise.reject(
        new UnauthenticatedError('missing bearer token', ErrorCodes.UNAUTHENTICATED),
      );
    }
    const token = BEARER.exec(value)?.[1];
    if (token === undefined) {
      return Promise.reject(
        new UnauthenticatedError(
          "malformed Authorization header; expected 'Bearer <token>'",
          ErrorCodes.TOKEN_INVALID,
        ),
      );
    }
    return this.authenticateToken(token);
  }

  /**
   * The principal behind a bare token (the WebSocket login message, git's HTTP password).
   * One indexed lookup joined to the user; last_used_at is written at most once a minute.
   */
  async authenticateToken(token: string): Promise<Principal> {
    if (!looksLikeToken(token)) throw invalidToken();
    const credential = await this.#state.credentialByTokenHash(hashToken(token));
    if (!credential) throw invalidToken();
    if (credential.revokedAt !== null) {
      throw new UnauthenticatedError('token has been revoked', ErrorCodes.TOKEN_REVOKED);
    }
    const now = this.#clock();
    if (credential.expiresAt !== null && Date.parse(credential.expiresAt) <= now.getTime()) {
      throw new UnauthenticatedError('token has expired', ErrorCodes.TOKEN_EXPIRED);
    }
    await this.#noteUse(credential, now);
    return Object.freeze({
      userId: credential.userId,
      username: credential.username,
      isAdmin: credential.isAdmin,
      tokenId: credential.tokenId,
      scopes: new Set(credential.scopes),
    });
  }

  /**
   * Creates a token for the principal's user. It may grant only scopes the principal holds
   * (ForbiddenError SCOPE_REQUIRED otherwise); `expiresAt`, if given, must be in the future.
   */
  async createToken(
    principal: Principal,
    input: {
      readonly name: string;
      readonly scopes: readonly string[];
      readonly expiresAt?: Date | string | undefined;
    },
  ): Promise<CreatedToken> {
    checkTokenName(input.name);
    const scopes = checkScopes(input.scopes);
    const missing = scopes.filter((s) => !principal.scopes.has(s));
    if (missing.length > 0) {
      throw new ForbiddenError(
        `a token can only grant scopes its creator holds; missing: ${missing.join(', ')}`,
        ErrorCodes.SCOPE_REQUIRED,
      );
    }
    const now = this.#clock();
    const expiresAt = input.expiresAt === undefined ? null : checkExpiry(input.expiresAt, now);
    return this.#issueToken(principal.userId, input.name, scopes, now, { expiresAt });
  }

  /** The principal's own tokens, newest first, without the tokens or their hashes. */
  listTokens(principal: Principal): Promise<TokenInfo[]> {
    return this.#state.tokensOfUser(principal.userId);
  }

  /**
   * Revokes one of the principal's tokens; an admin (a user with is_admin calling with the
   * admin scope) may revoke anyone's. A token that is not there or not the principal's is
   * NotFoundError TOKEN_NOT_FOUND alike, so ids of others' tokens cannot be probed.
   * Revoking a revoked token again succeeds and keeps the first revocation time.
   */
  async revokeToken(principal: Principal, tokenId: string): Promise<void> {
    const anyOwner = principal.isAdmin && principal.scopes.has('admin');
    const at = this.#clock().toISOString();
    const found = await this.#state.revokeToken(
      tokenId,
      anyOwner ? undefined : principal.userId,
      at,
    );
    if (!found) throw new NotFoundError('token not found', ErrorCodes.TOKEN_NOT_FOUND);
  }

  /** Every user, by username. The API allows this to the admin scope only. */
  async listUsers(): Promise<User[]> {
    return (await this.#state.users()).map(toUser);
  }

  /** One user; NotFoundError USER_NOT_FOUND when there is none with this id. */
  async getUser(id: string): Promise<User> {
    const user = await this.#state.userById(id);
    if (!user) throw new NotFoundError('user not found', ErrorCodes.USER_NOT_FOUND);
    return toUser(user);
  }

  async #issueToken(
    userId: string,
    name: string,
    scopes: readonly Scope[],
    now: Date,
    { expiresAt }: { readonly expiresAt: string | null },
  ): Promise<CreatedToken> {
    const token = generateToken();
    const record: NewTokenRecord = {
      id: randomUUID(),
      userId,
      name,
      tokenHash: hashToken(token),
      scopes: [...scopes].sort(),
      createdAt: now.toISOString(),
      expiresAt,
    };
    await this.#state.insertToken(record);
    return {
      id: record.id,
      token,
      name,
      scopes: [...record.scopes],
      createdAt: record.createdAt,
      expiresAt,
    };
  }

  /** Writes last_used_at when the recorded use is a minute old or more; best effort. */
  async #noteUse(credential: CredentialRecord, now: Date): Promise<void> {
    const staleBefore = now.getTime() - LAST_USED_RESOLUTION_MS;
    if (credential.lastUsedAt !== null && Date.parse(credential.lastUsedAt) > staleBefore) return;
    if (this.#touching.has(credential.tokenId)) return;
    this.#touching.add(credential.tokenId);
    try {
      await this.#state.markTokenUsed(
        credential.tokenId,
        now.toISOString(),
        new Date(staleBefore).toISOString(),
      );
    } catch {
      // A missed stamp is not worth failing the request; the next use a minute on retries.
    } finally {
      this.#touching.delete(credential.tokenId);
    }
  }

  /** Upgrades a hash made with older cost parameters; best effort, the next login retries. */
  async #rehashIfOutdated(user: UserRecord, password: string): Promise<void> {
    if (!this.#passwords.needsRehash(user.passwordHash)) return;
    try {
      const passwordHash = await this.#passwords.hash(password);
      await this.#state.updatePasswordHash(user.id, passwordHash, this.#clock().toISOString());
    } catch {
      // The old hash still verifies; nothing is lost.
    }
  }
}
