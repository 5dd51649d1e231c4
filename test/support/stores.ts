// Opens real stores on both backends for tests and cleans up after them.
import { after } from 'node:test';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { createTestDatabase, type Backend, type TestDatabase } from './databases.js';

export interface TestStore {
  readonly store: Store;
  readonly location: TestDatabase;
}

/** A freshly migrated store on the backend; closed and dropped when the test file ends. */
export async function openTestStore(
  backend: Backend,
  options: Partial<StoreOptions> = {},
): Promise<TestStore> {
  const location = await createTestDatabase(backend);
  const store = await openStore({
    dataDir: location.dataDir,
    databaseUrl: location.databaseUrl,
    ...options,
  });
  await insertTestUser(store);
  after(async () => {
    await store.close();
    await location.drop();
  });
  return { store, location };
}

/** Opens another store over the same location (a second controller, or a restart). */
export async function reopenStore(
  location: TestDatabase,
  options: Partial<StoreOptions> = {},
): Promise<Store> {
  return openStore({ dataDir: location.dataDir, databaseUrl: location.databaseUrl, ...options });
}

/** The user that owns the apps store-level tests insert. */
export const TEST_USER_ID = 'u-test';

/** Inserts the test user (idempotent). */
export async function insertTestUser(store: Store): Promise<void> {
  const now = new Date().toISOString();
  await store.db
    .insertInto('users')
    .values({
      id: TEST_USER_ID,
      username: 'tester',
      password_hash: 'x',
      is_admin: 0,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Inserts an app row owned by the test user, returning its id. */
export async function insertApp(store: Store, name: string, id = `app-${name}`): Promise<string> {
  const now = new Date().toISOString();
  await store.transact((tx) =>
    tx
      .insertInto('apps')
      .values({ id, name, owner_id: TEST_USER_ID, created_at: now, updated_at: now })
      .execute(),
  );
  return id;
}
