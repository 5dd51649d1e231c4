import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { ApiTokenTable, Database, Store, UserTable } from '../../store/index.js';
import type { CredentialRecord, NewTokenRecord, Scope, TokenInfo, UserRecord } from './model.js';
import { Scopes } from './model.js';

/** The row of the credential lookup (a token joined to its user). */
interface CredentialRow {
  readonly token_id: string;
  readonly scopes: string;
  readonly last_used_at: string | null;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly user_id: string;
  readonly username: string;
  readonly is_admin: number;
}

/** Stored as space-separated names, sorted, so equal sets compare equal in SQL. */
function formatScopes(scopes: readonly Scope[]): string {
  return [...scopes].sort().join(' ');
}

/** Names this build does not know (a newer controller's) are dropped, never granted. */
function parseScopes(stored: string): Scope[] {
  return stored
    .split(' ')
    .filter((s): s is Scope => (Scopes as readonly string[]).includes(s))
    .sort();
}

function toUser(row: Selectable<UserTable>): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    isAdmin: Number(row.is_admin) === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toTokenInfo(
  row: Pick<
    Selectable<ApiTokenTable>,
    'id' | 'name' | 'scopes' | 'created_at' | 'last_used_at' | 'expires_at' | 'revoked_at'
  >,
): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: parseScopes(row.scopes),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

function insertTokenRow(db: Kysely<Database>, token: NewTokenRecord) {
  return db
    .insertInto('api_tokens')
    .values({
      id: token.id,
      user_id: token.userId,
      name: token.name,
      token_hash: token.tokenHash,
      scopes: formatScopes(token.scopes),
      created_at: token.createdAt,
      last_used_at: null,
      expires_at: token.expiresAt,
      revoked_at: null,
    })
    .execute();
}

/** The SQL of users and API tokens (dialect-agnostic Kysely). */
export class IdentityStateSql {
  readonly #store: Store;
  #credentialQuery: CompiledQuery<CredentialRow> | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  async userByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.#store.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async userById(id: string): Promise<UserRecord | undefined> {
    const row = await this.#store.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async users(): Promise<UserRecord[]> {
    const rows = await this.#store.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(toUser);
  }

  /**
   * Inserts the user, and its first token if one is given, in one transaction, unless the
   * username is taken. ON CONFLICT DO NOTHING makes a lost race (another controller inserted
   * the name first) an answer, not an error; on PostgreSQL the insert waits for the other
   * transaction to commit before it decides.
   */
  insertUser(user: UserRecord, firstToken?: NewTokenRecord): Promise<boolean> {
    return this.#store.transact(async (tx) => {
      const inserted = await tx
        .insertInto('users')
        .values({
          id: user.id,
          username: user.username,
          password_hash: user.passwordHash,
          is_admin: user.isAdmin ? 1 : 0,
          created_at: user.createdAt,
          updated_at: user.updatedAt,
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) return false;
      if (firstToken) await insertTokenRow(tx, firstToken);
      return true;
    });
  }

  async updatePasswordHash(userId: string, passwordHash: string, at: string): Promise<void> {
    await this.#store.transact((tx) =>
      tx
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: at })
        .where('id', '=', userId)
        .execute(),
    );
  }

  async insertToken(token: NewTokenRecord): Promise<void> {
    await this.#store.transact((tx) => insertTokenRow(tx, token));
  }

  /**
   * The one lookup on every authenticated request: the unique index on token_hash, one join.
   * It is compiled once and run with each hash: building and compiling a Kysely query costs
   * about as much as running it, and this runs on every request (see the API benchmark).
   */
  async credentialByTokenHash(tokenHash: string): Promise<CredentialRecord | undefined> {
    this.#credentialQuery ??= this.#compileCredentialQuery();
    const { rows } = await this.#store.db.executeQuery<CredentialRow>({
      ...this.#credentialQuery,
      parameters: [tokenHash],
    });
    const row = rows[0];
    if (!row) return undefined;
    return {
      tokenId: row.token_id,
      userId: row.user_id,
      username: row.username,
      isAdmin: Number(row.is_admin) === 1,
      scopes: parseScopes(row.scopes),
      lastUsedAt: row.last_used_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
    };
  }

  #compileCredentialQuery(): CompiledQuery<CredentialRow> {
    const compiled = this.#store.db
      .selectFrom('api_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select([
        't.id as token_id',
        't.scopes',
        't.last_used_at',
        't.expires_at',
        't.revoked_at',
        'u.id as user_id',
        'u.username',
        'u.is_admin',
      ])
      .where('t.token_hash', '=', '')
      .compile();
    // The hash must be the only parameter, since each run replaces the whole list.
    if (compiled.parameters.length !== 1) {
      throw new Error('the credential query must have exactly one parameter');
    }
    return compiled;
  }

  /**
   * Records a use of the token, unless one after `staleBefore` is recorded already (by
   * this or another controller): concurrent requests then write nothing.
   */
  async markTokenUsed(tokenId: string, at: string, staleBefore: string): Promise<void> {
    await this.#store.transact((tx) =>
      tx
        .updateTable('api_tokens')
        .set({ last_used_at: at })
        .where('id', '=', tokenId)
        .where((eb) =>
          eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', staleBefore)]),
        )
        .execute(),
    );
  }

  async tokensOfUser(userId: string): Promise<TokenInfo[]> {
    const rows = await this.#store.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'scopes', 'created_at', 'last_used_at', 'expires_at', 'revoked_at'])
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(toTokenInfo);
  }

  /**
   * Sets revoked_at on the token (kept if already set), restricted to `ownerId`'s tokens when
   * one is given. False when no such token exists.
   */
  revokeToken(tokenId: string, ownerId: string | undefined, at: string): Promise<boolean> {
    return this.#store.transact(async (tx) => {
      let update = tx
        .updateTable('api_tokens')
        .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
        .where('id', '=', tokenId);
      if (ownerId !== undefined) update = update.where('user_id', '=', ownerId);
      const result = await update.executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }
}
