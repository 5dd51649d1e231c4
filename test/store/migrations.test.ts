import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  migrations,
  openStore,
  SchemaAlteredError,
  SchemaTooNewError,
  type Migration,
} from '../../src/store/index.js';
import { backends, createTestDatabase } from '../support/databases.js';
import { reopenStore } from '../support/stores.js';

const newest = migrations.at(-1)?.version ?? 0;

for (const backend of backends) {
  describe(`migrations on ${backend}`, () => {
    it('migrates a fresh store to the newest version and records every migration', async () => {
      const location = await createTestDatabase(backend);
      const store = await reopenStore(location);
      try {
        assert.equal(store.schemaVersion, newest);
        const rows = await store.db
          .selectFrom('berth_schema_migrations')
          .selectAll()
          .orderBy('version')
          .execute();
        assert.deepEqual(
          rows.map((r) => r.version),
          migrations.map((m) => m.version),
        );
        const namespaces = await store.db.selectFrom('change_log_namespace').selectAll().execute();
        assert.ok(namespaces.some((n) => n.namespace === 'apps'));
      } finally {
        await store.close();
        await location.drop();
      }
    });

    it('opens an up-to-date store again without applying anything', async () => {
      const location = await createTestDatabase(backend);
      try {
        await (await reopenStore(location)).close();
        const again = await reopenStore(location);
        const rows = await again.db
          .selectFrom('berth_schema_migrations')
          .select('applied_at')
          .execute();
        await again.close();
        const third = await reopenStore(location);
        const after = await third.db
          .selectFrom('berth_schema_migrations')
          .select('applied_at')
          .execute();
        await third.close();
        assert.deepEqual(after, rows);
      } finally {
        await location.drop();
      }
    });

    it('applies only the new migrations to an older store', async () => {
      const location = await createTestDatabase(backend);
      try {
        const old = await reopenStore(location, {
          migrations: migrations.slice(0, 1),
          watchedTables: [],
        });
        assert.equal(old.schemaVersion, 1);
        await old.close();
        const current = await reopenStore(location);
        assert.equal(current.schemaVersion, newest);
        await current.close();
      } finally {
        await location.drop();
      }
    });

    it('refuses a store migrated by a newer Berth, and changes nothing', async () => {
      const location = await createTestDatabase(backend);
      try {
        const future: Migration = {
          version: newest + 1,
          name: 'from the future',
          statements: ({ schema }) => [
            { sql: schema.createTable('future_things').addColumn('id', 'text').compile().sql },
          ],
        };
        await (await reopenStore(location, { migrations: [...migrations, future] })).close();
        await assert.rejects(reopenStore(location), (error: unknown) => {
          assert.ok(error instanceof SchemaTooNewError);
          assert.match(
            error.message,
            new RegExp(`schema version ${newest + 1}, newer than this Berth knows \\(${newest}\\)`),
          );
          return true;
        });
        const check = await reopenStore(location, { migrations: [...migrations, future] });
        assert.equal(check.schemaVersion, newest + 1);
        await check.close();
      } finally {
        await location.drop();
      }
    });

    it('refuses a store whose schema was altered by hand', async () => {
      const location = await createTestDatabase(backend);
      try {
        const store = await reopenStore(location);
        await sql`ALTER TABLE apps ADD COLUMN sneaky TEXT`.execute(store.db);
        await store.close();
        await assert.rejects(reopenStore(location), (error: unknown) => {
          assert.ok(error instanceof SchemaAlteredError);
          assert.match(error.message, /changed outside Berth's migrations/);
          return true;
        });
      } finally {
        await location.drop();
      }
    });

    it('refuses a store whose applied migration differs from this build', async () => {
      const location = await createTestDatabase(backend);
      try {
        await (await reopenStore(location)).close();
        const edited = migrations.map((m): Migration =>
          m.version === 3
            ? {
                ...m,
                statements: (c) => [
                  ...m.statements(c),
                  { sql: 'CREATE INDEX apps_created ON apps (created_at)' },
                ],
              }
            : m,
        );
        await assert.rejects(
          openStore({
            dataDir: location.dataDir,
            databaseUrl: location.databaseUrl,
            migrations: edited,
          }),
          (error: unknown) =>
            error instanceof SchemaAlteredError &&
            /migration 3 \(apps, config vars and the audit log\)/.test(error.message),
        );
      } finally {
        await location.drop();
      }
    });

    it('migrates once when several controllers start together', async () => {
      const location = await createTestDatabase(backend);
      try {
        const stores = await Promise.all([1, 2, 3].map(() => reopenStore(location)));
        const rows = await stores[0]!.db
          .selectFrom('berth_schema_migrations')
          .selectAll()
          .execute();
        assert.equal(rows.length, migrations.length);
        await Promise.all(stores.map((s) => s.close()));
      } finally {
        await location.drop();
      }
    });
  });
}
