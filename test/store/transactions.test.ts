import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import {
  NestedTransactionError,
  SQLITE_FILE,
  TransactionRetriesExhaustedError,
} from '../../src/store/index.js';
import { backends } from '../support/databases.js';
import { insertApp, openTestStore } from '../support/stores.js';
import { TEST_USER_ID } from '../support/stores.js';

const fastRetry = { maxAttempts: 50, maxElapsedMs: 10_000, baseDelayMs: 2, maxDelayMs: 40 };

for (const backend of backends) {
  describe(`transactions on ${backend}`, () => {
    it('commits the work and returns its result', async () => {
      const { store } = await openTestStore(backend);
      const result = await store.transact(async (tx) => {
        await tx
          .insertInto('apps')
          .values({
            id: 'a1',
            name: 'one',
            owner_id: TEST_USER_ID,
            created_at: 'x',
            updated_at: 'x',
          })
          .execute();
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal((await store.db.selectFrom('apps').selectAll().execute()).length, 1);
    });

    it('rolls back everything when the work throws', async () => {
      const { store } = await openTestStore(backend);
      await assert.rejects(
        store.transact(async (tx) => {
          await tx
            .insertInto('apps')
            .values({
              id: 'a1',
              name: 'one',
              owner_id: TEST_USER_ID,
              created_at: 'x',
              updated_at: 'x',
            })
            .execute();
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await store.db.selectFrom('apps').selectAll().execute()).length, 0);
    });

    it('does not retry a unique violation', async () => {
      const { store } = await openTestStore(backend, { retry: fastRetry });
      await insertApp(store, 'taken', 'a1');
      let attempts = 0;
      await assert.rejects(
        store.transact(async (tx) => {
          attempts++;
          await tx
            .insertInto('apps')
            .values({
              id: 'a2',
              name: 'taken',
              owner_id: TEST_USER_ID,
              created_at: 'x',
              updated_at: 'x',
            })
            .execute();
        }),
        (error: unknown) => !(error instanceof TransactionRetriesExhaustedError),
      );
      assert.equal(attempts, 1);
      assert.equal((await store.db.selectFrom('apps').selectAll().execute()).length, 1);
    });

    it('refuses a transaction nested in another', async () => {
      const { store } = await openTestStore(backend);
      await assert.rejects(
        store.transact(() => store.transact(() => Promise.resolve(1))),
        NestedTransactionError,
      );
    });

    it('stops retrying when the signal is aborted', async () => {
      const { store } = await openTestStore(backend);
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        store.transact(() => Promise.resolve(1), { signal: controller.signal }),
        {
          name: 'AbortError',
        },
      );
    });
  });
}

describe('transactions on sqlite under lock contention', () => {
  it('retries while another connection holds the write lock, then commits', async () => {
    const { store, location } = await openTestStore('sqlite', {
      retry: fastRetry,
      sqliteBusyTimeoutMs: 5,
    });
    const other = new BetterSqlite3(path.join(location.dataDir, SQLITE_FILE));
    other.exec('BEGIN IMMEDIATE');
    const retries: string[] = [];
    const pending = store.transact(
      (tx) =>
        tx
          .insertInto('apps')
          .values({
            id: 'a1',
            name: 'one',
            owner_id: TEST_USER_ID,
            created_at: 'x',
            updated_at: 'x',
          })
          .execute(),
      { onRetry: ({ error }) => retries.push((error as { code: string }).code) },
    );
    await sleep(150);
    other.exec('COMMIT');
    other.close();
    await pending;
    assert.ok(retries.length >= 1, 'at least one retry');
    assert.ok(
      retries.every((code) => code.startsWith('SQLITE_BUSY')),
      retries.join(),
    );
    assert.equal((await store.db.selectFrom('apps').selectAll().execute()).length, 1);
  });

  it('gives up with a typed error when the lock is never released', async () => {
    const { store, location } = await openTestStore('sqlite', {
      retry: { maxAttempts: 3, maxElapsedMs: 5_000, baseDelayMs: 1, maxDelayMs: 5 },
      sqliteBusyTimeoutMs: 5,
    });
    const other = new BetterSqlite3(path.join(location.dataDir, SQLITE_FILE));
    other.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(
        store.transact((tx) =>
          tx
            .insertInto('apps')
            .values({
              id: 'a1',
              name: 'one',
              owner_id: TEST_USER_ID,
              created_at: 'x',
              updated_at: 'x',
            })
            .execute(),
        ),
        (error: unknown) => {
          assert.ok(error instanceof TransactionRetriesExhaustedError);
          assert.equal(error.attempts, 3);
          assert.equal(error.code, 'STORE_RETRIES_EXHAUSTED');
          return true;
        },
      );
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal((await store.db.selectFrom('apps').selectAll().execute()).length, 0);
  });
});

describe('transactions on postgres under conflicts', () => {
  async function otherClient(url: string | undefined) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }

  it('retries a serialization failure and commits on the next attempt', async () => {
    const { store, location } = await openTestStore('postgres', { retry: fastRetry });
    const other = await otherClient(location.databaseUrl);
    let attempts = 0;
    const codes: string[] = [];
    try {
      await store.transact(
        async (tx) => {
          attempts++;
          const before = await tx
            .selectFrom('apps')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow();
          if (attempts === 1) {
            // A concurrent serializable writer commits a conflicting change meanwhile.
            await other.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
            await other.query('SELECT count(*) FROM apps');
            await other.query(`INSERT INTO apps VALUES ('b', 'bee', 'u-test', 'x', 'x')`);
            await other.query('COMMIT');
          }
          await tx
            .insertInto('apps')
            .values({
              id: `a${before.n}`,
              name: `n${before.n}`,
              owner_id: TEST_USER_ID,
              created_at: 'x',
              updated_at: 'x',
            })
            .execute();
        },
        {
          isolation: 'serializable',
          onRetry: ({ error }) => codes.push((error as { code: string }).code),
        },
      );
    } finally {
      await other.end();
    }
    assert.equal(attempts, 2);
    assert.deepEqual(codes, ['40001']);
    assert.equal((await store.db.selectFrom('apps').selectAll().execute()).length, 2);
  });

  it('retries a lock timeout (55P03) until the lock is released', async () => {
    const { store, location } = await openTestStore('postgres', { retry: fastRetry });
    await insertApp(store, 'locked', 'a1');
    const other = await otherClient(location.databaseUrl);
    await other.query('BEGIN');
    await other.query(`SELECT * FROM apps WHERE id = 'a1' FOR UPDATE`);
    const codes: string[] = [];
    const pending = store.transact(
      async (tx) => {
        await sql`SET LOCAL lock_timeout = '20ms'`.execute(tx);
        await tx.updateTable('apps').set({ updated_at: 'now' }).where('id', '=', 'a1').execute();
      },
      { onRetry: ({ error }) => codes.push((error as { code: string }).code) },
    );
    await sleep(200);
    await other.query('COMMIT');
    await other.end();
    await pending;
    assert.ok(codes.length >= 1 && codes.every((c) => c === '55P03'), codes.join());
    const row = await store.db.selectFrom('apps').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.updated_at, 'now');
  });

  it('retries the victim of a deadlock (40P01)', async () => {
    const { store, location } = await openTestStore('postgres', { retry: fastRetry });
    await insertApp(store, 'first', 'a1');
    await insertApp(store, 'second', 'a2');
    const other = await otherClient(location.databaseUrl);
    let attempts = 0;
    const codes: string[] = [];
    let otherDone: Promise<unknown> = Promise.resolve();
    try {
      await store.transact(
        async (tx) => {
          attempts++;
          // This side detects the deadlock first, so it is the victim.
          await sql`SET LOCAL deadlock_timeout = '50ms'`.execute(tx);
          await tx.updateTable('apps').set({ updated_at: 'mine' }).where('id', '=', 'a1').execute();
          if (attempts === 1) {
            await other.query('BEGIN');
            await other.query(`SET LOCAL deadlock_timeout = '10s'`);
            await other.query(`UPDATE apps SET updated_at = 'theirs' WHERE id = 'a2'`);
            otherDone = other
              .query(`UPDATE apps SET updated_at = 'theirs' WHERE id = 'a1'`)
              .then(() => other.query('COMMIT'));
          }
          await tx.updateTable('apps').set({ updated_at: 'mine' }).where('id', '=', 'a2').execute();
        },
        { onRetry: ({ error }) => codes.push((error as { code: string }).code) },
      );
      await otherDone;
    } finally {
      await other.end();
    }
    assert.deepEqual(codes, ['40P01']);
    assert.equal(attempts, 2);
    const rows = await store.db.selectFrom('apps').select('updated_at').execute();
    assert.deepEqual(
      rows.map((r) => r.updated_at),
      ['mine', 'mine'],
    );
  });
});
