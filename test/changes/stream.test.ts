import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { sql } from 'kysely';
import {
  AllEdits,
  ChangeStreamStoppedError,
  EditType,
  KeysWatcher,
  NotifyWatcher,
  Subscription,
  type ChangeEvent,
} from '../../src/changes/index.js';
import { backends } from '../support/databases.js';
import { insertApp, openTestStore } from '../support/stores.js';
import { nextWithin, staysQuiet, streamFor, valueWithin } from '../support/changes.js';

const run = promisify(execFile);
/** With this backoff, polling cannot explain a delivery: only a wake-up can. */
const noPolling = { initialMs: 60_000, factor: 1.4, maxMs: 60_000 };

function summary(events: readonly ChangeEvent[]) {
  return events.map((e) => ({ key: e.changed, types: e.editTypes, last: e.lastEditType }));
}

for (const backend of backends) {
  describe(`change stream on ${backend}`, () => {
    it('reports an insert, a real update and a delete, and nothing for a no-op update', async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store);
      await stream.open();
      const subscription = new Subscription(hub, { filters: [{ namespace: 'apps' }] });

      await insertApp(store, 'one', 'a1');
      await stream.drain();
      assert.deepEqual(summary(await valueWithin(subscription, 1000)), [
        { key: 'a1', types: EditType.Create, last: EditType.Create },
      ]);

      await store.transact((tx) =>
        tx.updateTable('apps').set({ updated_at: 'later' }).where('id', '=', 'a1').execute(),
      );
      await stream.drain();
      assert.deepEqual(summary(await valueWithin(subscription, 1000)), [
        { key: 'a1', types: EditType.Update, last: EditType.Update },
      ]);

      // Setting a column to the value it has changes nothing, so logs nothing.
      await store.transact((tx) =>
        tx.updateTable('apps').set({ updated_at: 'later' }).where('id', '=', 'a1').execute(),
      );
      assert.equal(await stream.drain(), 0);
      assert.ok(await staysQuiet(subscription, 50));

      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', 'a1').execute());
      await stream.drain();
      assert.deepEqual(summary(await valueWithin(subscription, 1000)), [
        { key: 'a1', types: EditType.Delete, last: EditType.Delete },
      ]);
      subscription.close();
    });

    it('coalesces repeated changes to one key in a read into one event', async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store);
      await stream.open();
      const subscription = new Subscription(hub, { filters: [{ namespace: 'apps' }] });
      await insertApp(store, 'one', 'a1');
      for (let i = 0; i < 5; i++) {
        await store.transact((tx) =>
          tx
            .updateTable('apps')
            .set({ updated_at: `t${i}` })
            .where('id', '=', 'a1')
            .execute(),
        );
      }
      await insertApp(store, 'two', 'a2');
      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', 'a2').execute());
      assert.equal(await stream.drain(), 2);
      assert.deepEqual(summary(await valueWithin(subscription, 1000)), [
        { key: 'a1', types: EditType.Create | EditType.Update, last: EditType.Update },
        { key: 'a2', types: EditType.Create | EditType.Delete, last: EditType.Delete },
      ]);
      subscription.close();
    });

    it('starts at the head: changes from before the stream opened are not replayed', async () => {
      const { store } = await openTestStore(backend);
      await insertApp(store, 'old', 'a0');
      const { stream, hub } = streamFor(store);
      await stream.open();
      const subscription = new Subscription(hub, { filters: [{ namespace: 'apps' }] });
      assert.equal(await stream.drain(), 0);
      await insertApp(store, 'new', 'a1');
      await stream.drain();
      assert.deepEqual(
        summary(await valueWithin(subscription, 1000)).map((e) => e.key),
        ['a1'],
      );
      subscription.close();
    });

    it('wakes on a commit without waiting for the poll', async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store, { backoff: noPolling });
      await stream.start();
      const watcher = new KeysWatcher(hub, {
        filters: [{ namespace: 'apps' }],
        initial: async () => [],
      });
      assert.deepEqual(await valueWithin(watcher, 1000), []);
      await insertApp(store, 'one', 'a1');
      assert.deepEqual(await valueWithin(watcher, 2000, 'a wake-up'), ['a1']);
      watcher.close();
    });

    it('notify watcher: an initial signal, then one per batch of matching changes', async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store);
      await stream.open();
      const watcher = new NotifyWatcher(hub, {
        filters: [
          { namespace: 'apps', mask: EditType.Create, predicate: (key) => key.startsWith('x') },
        ],
      });
      assert.equal((await nextWithin(watcher, 100, 'the initial signal')).done, false);
      assert.ok(await staysQuiet(watcher, 30));
      await insertApp(store, 'skip', 'y1');
      await stream.drain();
      assert.ok(await staysQuiet(watcher, 30), 'a key the predicate rejects');
      for (const n of [1, 2, 3]) await insertApp(store, `x${n}`, `x${n}`);
      await stream.drain();
      await stream.drain();
      assert.equal((await nextWithin(watcher, 1000)).done, false);
      assert.ok(await staysQuiet(watcher, 30), 'three inserts, one signal');
      await store.transact((tx) =>
        tx.updateTable('apps').set({ updated_at: 'u' }).where('id', '=', 'x1').execute(),
      );
      await stream.drain();
      assert.ok(await staysQuiet(watcher, 30), 'an update is outside the mask');
      watcher.close();
    });

    it('keys watcher: the initial keys first, then changed keys, nothing lost in between', async () => {
      const { store } = await openTestStore(backend);
      await insertApp(store, 'existing', 'a0');
      const { stream, hub } = streamFor(store);
      await stream.start();
      const watcher = new KeysWatcher(hub, {
        filters: [{ namespace: 'apps', mask: AllEdits }],
        initial: async () => {
          const rows = await store.db.selectFrom('apps').select('id').execute();
          // A change committed after the subscription but during the initial query.
          await insertApp(store, 'during', 'a1');
          return rows.map((r) => r.id);
        },
      });
      assert.deepEqual(await valueWithin(watcher, 1000), ['a0']);
      assert.deepEqual(await valueWithin(watcher, 2000), ['a1']);
      watcher.close();
    });

    it('drops a subscriber that does not keep up, and only that one', async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store);
      await stream.open();
      const slow = new Subscription(hub, { filters: [{ namespace: 'apps' }], bufferLimit: 5 });
      const fast = new Subscription(hub, { filters: [{ namespace: 'apps' }], bufferLimit: 100 });
      for (let i = 0; i < 10; i++) {
        await insertApp(store, `n${i}`, `a${i}`);
        await stream.drain();
      }
      await assert.rejects(slow.next(), { code: 'CHANGES_SUBSCRIBER_TOO_SLOW' });
      assert.equal(slow.error?.name, 'SubscriberTooSlowError');
      const received = (await valueWithin(fast, 1000)).map((e) => e.changed);
      assert.equal(received.length, 10);
      assert.equal(hub.subscriberCount, 1);
      fast.close();
    });

    it('ends watchers on their AbortSignal, and every subscription when the stream stops', async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store);
      await stream.start();
      const controller = new AbortController();
      const aborted = new KeysWatcher(hub, {
        filters: [{ namespace: 'apps' }],
        initial: async () => [],
        signal: controller.signal,
      });
      await nextWithin(aborted, 1000);
      const pending = aborted.next();
      controller.abort();
      assert.equal((await pending).done, true);
      assert.equal(aborted.error, undefined);

      const notify = new NotifyWatcher(hub, { filters: [{ namespace: 'apps' }] });
      await nextWithin(notify, 1000);
      const waiting = assert.rejects(notify.next(), ChangeStreamStoppedError);
      await stream.stop();
      await waiting;
      const witnesses = await store.db.selectFrom('change_log_witness').selectAll().execute();
      assert.deepEqual(witnesses, [], 'a stopped stream leaves no witness');
    });

    it('prunes only what every live reader has passed; a slow reader loses nothing', async () => {
      const { store } = await openTestStore(backend);
      const fast = streamFor(store, { readerId: 'fast' });
      const slow = streamFor(store, { readerId: 'slow' });
      await fast.stream.open();
      await slow.stream.open();
      const slowSubscription = new Subscription(slow.hub, { filters: [{ namespace: 'apps' }] });
      for (let i = 0; i < 20; i++) await insertApp(store, `n${i}`, `a${i}`);
      assert.equal(await fast.stream.drain(), 20);
      await fast.stream.prune();
      const logRows = async () =>
        Number(
          (await sql<{ n: number }>`SELECT count(*) AS n FROM change_log`.execute(store.db)).rows[0]
            ?.n,
        );
      assert.equal(await logRows(), 20, 'the slow reader has not passed them');

      assert.equal(await slow.stream.drain(), 20);
      const keys = (await valueWithin(slowSubscription, 1000)).map((e) => e.changed);
      assert.equal(keys.length, 20);
      await slow.stream.prune();
      assert.equal(await logRows(), 0, 'both readers passed every row');
      slowSubscription.close();
    });

    it('does not let a dead reader hold rows back', async () => {
      const { store } = await openTestStore(backend);
      const now = new Date(Date.now() - 10 * 60_000).toISOString();
      await store.db
        .insertInto('change_log_witness')
        .values({ reader_id: 'dead', lower_bound: '0', upper_bound: '0', updated_at: now })
        .execute();
      const { stream } = streamFor(store, { witnessTtlMs: 60_000 });
      await stream.open();
      for (let i = 0; i < 5; i++) await insertApp(store, `n${i}`, `a${i}`);
      await stream.drain();
      assert.equal(await stream.prune(), 5);
      const witnesses = await store.db
        .selectFrom('change_log_witness')
        .select('reader_id')
        .execute();
      assert.deepEqual(
        witnesses.map((w) => w.reader_id),
        [stream.readerId],
      );
    });
  });
}

describe('change stream on postgres across transactions and processes', () => {
  it('sees a lower id that commits after a higher one', async () => {
    const { store, location } = await openTestStore('postgres');
    const { stream, hub } = streamFor(store);
    await stream.open();
    const subscription = new Subscription(hub, { filters: [{ namespace: 'apps' }] });
    const early = new pg.Client({ connectionString: location.databaseUrl });
    const late = new pg.Client({ connectionString: location.databaseUrl });
    await early.connect();
    await late.connect();
    try {
      await early.query('BEGIN');
      await early.query(`INSERT INTO apps VALUES ('low', 'low', 'u-test', 'x', 'x')`); // takes the lower id
      await late.query('BEGIN');
      await late.query(`INSERT INTO apps VALUES ('high', 'high', 'u-test', 'x', 'x')`);
      await late.query('COMMIT');
      await stream.drain();
      assert.deepEqual(
        (await valueWithin(subscription, 1000)).map((e) => e.changed),
        ['high'],
      );
      await early.query('COMMIT');
      await stream.drain();
      assert.deepEqual(
        (await valueWithin(subscription, 1000)).map((e) => e.changed),
        ['low'],
      );
      const ids = await sql<{
        id: number;
        changed: string;
      }>`SELECT id, changed FROM change_log ORDER BY id`.execute(store.db);
      assert.deepEqual(
        ids.rows.map((r) => r.changed),
        ['low', 'high'],
        'low really has the lower id',
      );
      assert.equal(await stream.drain(), 0, 'nothing is delivered twice');
    } finally {
      await early.end();
      await late.end();
      subscription.close();
    }
  });

  it('keeps pruning while a transaction stays open in another database of the server', async () => {
    const { store, location } = await openTestStore('postgres');
    const { stream } = streamFor(store);
    await stream.open();
    const otherDatabase = new URL(location.databaseUrl ?? '');
    otherDatabase.pathname = '/postgres';
    const bystander = new pg.Client({ connectionString: otherDatabase.toString() });
    await bystander.connect();
    try {
      await bystander.query('BEGIN');
      await bystander.query('SELECT pg_current_xact_id()'); // holds an xid, so the cluster xmin
      for (let i = 0; i < 5; i++) await insertApp(store, `n${i}`, `a${i}`);
      assert.equal(await stream.drain(), 5);
      assert.equal(await stream.prune(), 5, 'rows of this database are pruned all the same');
      // A transaction open in this database still holds the floor, and its row still arrives.
      const writer = new pg.Client({ connectionString: location.databaseUrl });
      await writer.connect();
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO apps VALUES ('late', 'late', 'u-test', 'x', 'x')`);
      await insertApp(store, 'after', 'after');
      assert.equal(await stream.drain(), 1);
      await writer.query('COMMIT');
      await writer.end();
      assert.equal(await stream.drain(), 1, 'the late commit is delivered');
    } finally {
      await bystander.query('ROLLBACK');
      await bystander.end();
    }
  });

  it('delivers a change committed by another controller process, woken by NOTIFY', async () => {
    const { store, location } = await openTestStore('postgres');
    const { stream, hub } = streamFor(store, { backoff: noPolling });
    await stream.start();
    const watcher = new KeysWatcher(hub, {
      filters: [{ namespace: 'apps' }],
      initial: async () => [],
    });
    await nextWithin(watcher, 1000);
    await run(process.execPath, [
      '--import',
      'tsx',
      'test/support/commit-from-another-process.ts',
      location.databaseUrl ?? '',
      'from-elsewhere',
    ]);
    assert.deepEqual(await valueWithin(watcher, 3000, "the other process's change"), [
      'from-elsewhere',
    ]);
    watcher.close();
  });
});
