import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  IdentityService,
  INITIAL_ADMIN_TOKEN_FILE,
  INITIAL_ADMIN_TOKEN_NAME,
  Scopes,
} from '../../../src/domain/identity/index.js';
import { IdentityStateSql } from '../../../src/domain/identity/state.js';
import { backends } from '../../support/databases.js';
import { reopenStore } from '../../support/stores.js';
import { bearer, fastHashing, openIdentity } from './fixtures.js';

for (const backend of backends) {
  describe(`identity: first admin on ${backend}`, () => {
    it('creates admin and a 0600 token file whose token has every scope', async () => {
      const { identity, store, location } = await openIdentity(backend);
      const result = await identity.ensureAdmin({ dataDir: location.dataDir });
      assert.equal(result.created, true);
      assert.ok(result.created);
      const file = path.join(location.dataDir, INITIAL_ADMIN_TOKEN_FILE);
      assert.equal(result.tokenFile, file);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(readFileSync(file, 'utf8'), `${result.token}\n`);

      const principal = await identity.authenticate(bearer(result.token));
      assert.equal(principal.username, 'admin');
      assert.equal(principal.isAdmin, true);
      assert.deepEqual([...principal.scopes].sort(), [...Scopes].sort());

      const tokens = await store.db.selectFrom('api_tokens').selectAll().execute();
      assert.equal(tokens.length, 1);
      assert.equal(tokens[0]?.name, INITIAL_ADMIN_TOKEN_NAME);
      assert.equal(tokens[0]?.expires_at, null);
      const admin = await store.db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', 'admin')
        .executeTakeFirstOrThrow();
      assert.equal(admin.is_admin, 1);
      assert.match(admin.password_hash, /^\$argon2id\$/);
    });

    it('does nothing the second time', async () => {
      const { identity, store, location } = await openIdentity(backend);
      const first = await identity.ensureAdmin({ dataDir: location.dataDir });
      assert.ok(first.created);
      const second = await identity.ensureAdmin({ dataDir: location.dataDir });
      assert.deepEqual(second, { created: false });
      const file = path.join(location.dataDir, INITIAL_ADMIN_TOKEN_FILE);
      assert.equal(readFileSync(file, 'utf8'), `${first.token}\n`);
      assert.equal((await store.db.selectFrom('api_tokens').selectAll().execute()).length, 1);
      assert.equal(
        (await store.db.selectFrom('users').selectAll().where('username', '=', 'admin').execute())
          .length,
        1,
      );
    });

    it('creates a missing data dir and replaces a stale token file', async () => {
      const { identity, location } = await openIdentity(backend);
      const dataDir = path.join(location.dataDir, 'nested', 'dir');
      const first = await identity.ensureAdmin({ dataDir });
      assert.ok(first.created);

      const { identity: other, location: otherLocation } = await openIdentity(backend);
      const stale = path.join(otherLocation.dataDir, INITIAL_ADMIN_TOKEN_FILE);
      writeFileSync(stale, 'berth_stale\n', { mode: 0o644 });
      const second = await other.ensureAdmin({ dataDir: otherLocation.dataDir });
      assert.ok(second.created);
      assert.equal(readFileSync(stale, 'utf8'), `${second.token}\n`);
      assert.equal(statSync(stale).mode & 0o777, 0o600);
    });

    it('creates exactly one admin when two controllers start at once', async () => {
      const { store, location } = await openIdentity(backend);
      const second = await reopenStore(location);
      try {
        const controllers = [store, second].map(
          (s) => new IdentityService({ store: s, passwordHashing: fastHashing }),
        );
        const results = await Promise.all(
          controllers.map((c) => c.ensureAdmin({ dataDir: location.dataDir })),
        );
        const created = results.filter((r) => r.created);
        assert.equal(created.length, 1);
        const winner = created[0];
        assert.ok(winner?.created);

        const admins = await store.db
          .selectFrom('users')
          .selectAll()
          .where('username', '=', 'admin')
          .execute();
        assert.equal(admins.length, 1);
        const tokens = await store.db.selectFrom('api_tokens').selectAll().execute();
        assert.equal(tokens.length, 1);
        const file = path.join(location.dataDir, INITIAL_ADMIN_TOKEN_FILE);
        assert.equal(readFileSync(file, 'utf8'), `${winner.token}\n`);
        for (const controller of controllers) {
          assert.equal((await controller.authenticate(bearer(winner.token))).username, 'admin');
        }
        assert.deepEqual(
          readdirSync(location.dataDir).filter((f) => f.endsWith('.tmp')),
          [],
          'no staged token file is left behind',
        );
      } finally {
        await second.close();
      }
    });

    it('treats a username taken meanwhile as created by someone else, inserting no token', async () => {
      const { identity, store, location } = await openIdentity(backend);
      const state = new IdentityStateSql(store);
      const at = new Date().toISOString();
      const userFor = (id: string) => ({
        id,
        username: 'admin',
        passwordHash: 'x',
        isAdmin: true,
        createdAt: at,
        updatedAt: at,
      });
      assert.equal(await state.insertUser(userFor(randomUUID())), true);
      const lateId = randomUUID();
      const inserted = await state.insertUser(userFor(lateId), {
        id: randomUUID(),
        userId: lateId,
        name: INITIAL_ADMIN_TOKEN_NAME,
        tokenHash: 'f'.repeat(64),
        scopes: ['admin'],
        createdAt: at,
        expiresAt: null,
      });
      assert.equal(inserted, false);
      assert.equal((await store.db.selectFrom('api_tokens').selectAll().execute()).length, 0);
      assert.deepEqual(await identity.ensureAdmin({ dataDir: location.dataDir }), {
        created: false,
      });
    });
  });
}
