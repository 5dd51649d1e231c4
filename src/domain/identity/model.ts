/** What a token may do: `read` (GET), `write` (POST/PUT/PATCH), `delete` (DELETE), `admin`. */
export const Scopes = ['read', 'write', 'delete', 'admin'] as const;
export type Scope = (typeof Scopes)[number];

/** Who is calling: the user behind an authenticated token and what that token may do. */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly isAdmin: boolean;
  readonly tokenId: string;
  readonly scopes: ReadonlySet<Scope>;
}

/** A user as the API shows it (never the password hash). */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly isAdmin: boolean;
  readonly createdAt: string;
}

/** A token as its owner sees it in listings (never the token nor its hash). */
export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  /** Sorted, as stored; a fresh array the caller may keep. */
  readonly scopes: Scope[];
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

/** A token just created: the only time the token itself is seen. */
export interface CreatedToken {
  readonly id: string;
  readonly token: string;
  readonly name: string;
  /** Sorted, as stored. */
  readonly scopes: Scope[];
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

/** A user row as the state layer reads and writes it. */
export interface UserRecord {
  readonly id: string;
  readonly username: string;
  /** argon2id, PHC string form. */
  readonly passwordHash: string;
  readonly isAdmin: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A token row to insert: the hash only, never the token. */
export interface NewTokenRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly tokenHash: string;
  readonly scopes: readonly Scope[];
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

/** What authentication reads in its one lookup: a token joined to its user. */
export interface CredentialRecord {
  readonly tokenId: string;
  readonly userId: string;
  readonly username: string;
  readonly isAdmin: boolean;
  readonly scopes: readonly Scope[];
  readonly lastUsedAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}
