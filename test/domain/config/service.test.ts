import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { ConfigLimits, ConfigService } from '../../../src/domain/config/index.js';
import { ErrorCodes, InputError, NotFoundError } from '../../../src/errors/index.js';
import {
  masterKeyFromBytes,
  SecretBox,
  SecretsError,
  SecretsErrorCodes,
} from '../../../src/secrets/index.js';
import { SQLITE_FILE, type Store } from '../../../src/store/index.js';
import { backends } from '../../support/databases.js';
import { insertApp, openTestStore } from '../../support/stores.js';

const secrets = new SecretBox(masterKeyFromBytes(randomBytes(32)));

async function setUp(backend: (typeof backends)[number]) {
  const opened = await openTestStore(backend);
  const config = new ConfigService({ store: opened.store, secrets });
  const appId = await insertApp(opened.store, 'web');
  return { ...opened, config, appId };
}

async function rows(store: Store, appId?: string) {
  let query = store.db.selectFrom('config_vars').selectAll().orderBy('key');
  if (appId !== undefined) query = query.where('app_id', '=', appId);
  return query.execute();
}

/** Asserts an InputError whose message holds `fragment` and none of `values`. */
function inputError(fragment: string, ...values: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    assert.equal(error.code, ErrorCodes.INVALID_INPUT);
    assert.ok(error.message.includes(fragment), error.message);
    for (const value of values) assert.ok(!error.message.includes(value), error.message);
    return true;
  };
}

for (const backend of backends) {
  describe(`config vars on ${backend}`, () => {
    it('sets, gets and unsets', async () => {
      const { config, appId } = await setUp(backend);
      const first = await config.patch(appId, { B_KEY: 'two', A_KEY: 'one', _under: '' });
      assert.deepEqual(first, { set: ['A_KEY', 'B_KEY', '_under'], unset: [], changed: true });
      assert.deepEqual(await config.get(appId, { reveal: true }), {
        A_KEY: 'one',
        B_KEY: 'two',
        _under: '',
      });
      assert.deepEqual(Object.keys(await config.get(appId, { reveal: true })), [
        'A_KEY',
        'B_KEY',
        '_under',
      ]);

      const second = await config.patch(appId, { A_KEY: null, B_KEY: 'three', C: 'c', NOPE: null });
      assert.deepEqual(second, { set: ['B_KEY', 'C'], unset: ['A_KEY'], changed: true });
      assert.deepEqual(await config.snapshot(appId), { B_KEY: 'three', C: 'c', _under: '' });
    });

    it('sorts keys by code unit on every backend', async () => {
      const { config, appId } = await setUp(backend);
      await config.patch(appId, { b: '1', B: '2', a: '3', A_: '4', _z: '5', Z: '6' });
      assert.deepEqual(Object.keys(await config.get(appId, { reveal: false })), [
        'A_',
        'B',
        'Z',
        '_z',
        'a',
        'b',
      ]);
    });

    it('shows keys with null values without reveal', async () => {
      const { config, appId } = await setUp(backend);
      await config.patch(appId, { SECRET: 'hidden', OTHER: 'also' });
      assert.deepEqual(await config.get(appId, { reveal: false }), { OTHER: null, SECRET: null });
    });

    it('gives an empty map for an app without vars, and NotFound for no app', async () => {
      const { config, appId } = await setUp(backend);
      assert.deepEqual(await config.get(appId, { reveal: true }), {});
      assert.deepEqual(await config.get(appId, { reveal: false }), {});
      assert.deepEqual(await config.snapshot(appId), {});
      const notFound = (error: unknown) =>
        error instanceof NotFoundError && error.code === ErrorCodes.APP_NOT_FOUND;
      await assert.rejects(config.get('no-such-app', { reveal: true }), notFound);
      await assert.rejects(config.get('no-such-app', { reveal: false }), notFound);
      await assert.rejects(config.snapshot('no-such-app'), notFound);
      await assert.rejects(config.patch('no-such-app', { A: 'x' }), notFound);
    });

    it('keeps keys like __proto__ as ordinary keys', async () => {
      const { config, appId } = await setUp(backend);
      await config.patch(
        appId,
        JSON.parse('{"__proto__": "p", "constructor": "c"}') as Record<string, string>,
      );
      const values = await config.snapshot(appId);
      assert.equal(Object.getPrototypeOf(values), Object.prototype);
      assert.deepEqual(Object.keys(values), ['__proto__', 'constructor']);
      assert.equal(JSON.stringify(values), '{"__proto__":"p","constructor":"c"}');
    });

    it('does not rewrite a key set to the value it has', async () => {
      const { store, config, appId } = await setUp(backend);
      await config.patch(appId, { SAME: 'value', OTHER: 'x' });
      const before = await rows(store, appId);
      const again = await config.patch(appId, { SAME: 'value', GONE: null });
      assert.deepEqual(again, { set: [], unset: [], changed: false });
      assert.deepEqual(await rows(store, appId), before);

      const mixed = await config.patch(appId, { SAME: 'value', OTHER: 'y' });
      assert.deepEqual(mixed, { set: ['OTHER'], unset: [], changed: true });
      const after = await rows(store, appId);
      assert.deepEqual(
        after.find((r) => r.key === 'SAME'),
        before.find((r) => r.key === 'SAME'),
      );
    });

    it('keeps created_at and moves updated_at when a value changes', async () => {
      const { store, appId } = await setUp(backend);
      let now = new Date('2024-01-01T00:00:00.000Z');
      const config = new ConfigService({ store, secrets, clock: () => now });
      await config.patch(appId, { K: 'one' });
      now = new Date('2024-02-01T00:00:00.000Z');
      await config.patch(appId, { K: 'two' });
      const [row] = await rows(store, appId);
      assert.equal(row?.created_at, '2024-01-01T00:00:00.000Z');
      assert.equal(row?.updated_at, '2024-02-01T00:00:00.000Z');
    });

    it('writes nothing when any part of a patch is invalid', async () => {
      const { store, config, appId } = await setUp(backend);
      await config.patch(appId, { KEEP: 'kept' });
      const before = await rows(store);
      const secret = 'do-not-echo-me';
      const bad: [Record<string, unknown>, string][] = [
        [{ GOOD: secret, 'BAD-KEY': secret, ALSO_GOOD: secret }, '"BAD-KEY"'],
        [{ GOOD: secret, '1ABC': secret }, '"1ABC"'],
        [{ GOOD: secret, '': secret }, '""'],
        [{ GOOD: secret, 'SP ACE': secret }, '"SP ACE"'],
        [{ GOOD: secret, ['K'.repeat(257)]: secret }, 'at most 256'],
        [{ GOOD: secret, KEEP: null, NUM: 42 }, 'must be a string'],
        [{ GOOD: secret, OBJ: { secret } }, 'must be a string'],
        [{ GOOD: secret, NUL: `a\0${secret}` }, 'NUL'],
        [{ GOOD: secret, SURROGATE: `${secret}\uD800` }, 'well-formed'],
        [{}, 'at least one key'],
      ];
      for (const [patch, fragment] of bad) {
        await assert.rejects(
          config.patch(appId, patch as Record<string, string | null>),
          inputError(fragment, secret),
        );
      }
      assert.deepEqual(await rows(store), before);
    });

    it('accepts a value of 32 KiB in UTF-8 and refuses one byte more', async () => {
      const { store, config, appId } = await setUp(backend);
      const max = ConfigLimits.maxValueBytes;
      assert.equal(max, 32 * 1024);
      const atLimit = 'é'.repeat(max / 2); // two bytes each in UTF-8
      assert.deepEqual((await config.patch(appId, { BIG: atLimit })).set, ['BIG']);
      assert.equal((await config.snapshot(appId))['BIG'], atLimit);
      await assert.rejects(
        config.patch(appId, { BIGGER: `${atLimit}x`, SMALL: 's' }),
        inputError(`is ${max + 1} bytes`),
      );
      // Characters are not bytes: half the limit in 3-byte characters is too much.
      await assert.rejects(
        config.patch(appId, { WIDE: '€'.repeat(max / 2) }),
        inputError(`is ${(max / 2) * 3} bytes`),
      );
      assert.deepEqual(
        (await rows(store, appId)).map((r) => r.key),
        ['BIG'],
      );
    });

    it('limits keys per patch and vars per app', async () => {
      const { store, config, appId } = await setUp(backend);
      const many = (prefix: string, n: number) =>
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, `v${i}`]));
      await assert.rejects(
        config.patch(appId, many('K', ConfigLimits.maxKeysPerPatch + 1)),
        inputError('at most 100 keys'),
      );
      for (let batch = 0; batch < ConfigLimits.maxVarsPerApp / 100; batch++) {
        await config.patch(appId, many(`B${batch}_`, 100));
      }
      assert.equal((await rows(store, appId)).length, ConfigLimits.maxVarsPerApp);
      await assert.rejects(config.patch(appId, { ONE_MORE: 'x' }), inputError('would have 501'));
      // Replacing one var by another keeps the count, and changing values is always fine.
      const swap = await config.patch(appId, { B0_0: null, ONE_MORE: 'x', B1_1: 'changed' });
      assert.deepEqual(swap, { set: ['B1_1', 'ONE_MORE'], unset: ['B0_0'], changed: true });
      assert.equal((await rows(store, appId)).length, ConfigLimits.maxVarsPerApp);
    });

    it('applies concurrent patches without losing any', async () => {
      const { config, appId } = await setUp(backend);
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          config.patch(appId, { [`K${i}`]: `v${i}`, SHARED: `${i}` }),
        ),
      );
      const values = await config.snapshot(appId);
      assert.equal(Object.keys(values).length, 13);
      for (let i = 0; i < 12; i++) assert.equal(values[`K${i}`], `v${i}`);
    });

    it('stores values encrypted: the plaintext is nowhere in the database', async () => {
      const { location, config, appId } = await setUp(backend);
      const plaintext = `berth-plaintext-${randomBytes(12).toString('hex')}`;
      await config.patch(appId, { DISTINCTIVE_KEY: plaintext });
      // Overwritten and unset values must not linger either.
      await config.patch(appId, { OLD_KEY: `${plaintext}-old` });
      await config.patch(appId, { OLD_KEY: null });
      assert.equal((await config.snapshot(appId))['DISTINCTIVE_KEY'], plaintext);
      const forms = [
        plaintext,
        Buffer.from(plaintext).toString('base64'),
        Buffer.from(plaintext).toString('base64url'),
        Buffer.from(plaintext).toString('hex'),
      ];

      if (backend === 'sqlite') {
        const files = [SQLITE_FILE, `${SQLITE_FILE}-wal`]
          .map((name) => path.join(location.dataDir, name))
          .filter((file) => existsSync(file));
        const raw = Buffer.concat(files.map((file) => readFileSync(file)));
        // The search looks in the right place: the key (not secret) is there in clear.
        assert.ok(raw.includes('DISTINCTIVE_KEY'), 'the key should be in the database files');
        for (const form of forms)
          assert.ok(!raw.includes(form), `found ${form} in ${files.join(', ')}`);
        return;
      }

      const client = new pg.Client({ connectionString: location.databaseUrl });
      await client.connect();
      try {
        const all = await client.query('SELECT * FROM config_vars');
        const dump = await client.query<{ row: string }>(
          'SELECT row_to_json(c)::text AS row FROM config_vars c',
        );
        const text = JSON.stringify(all.rows) + dump.rows.map((r) => r.row).join('\n');
        assert.ok(text.includes('DISTINCTIVE_KEY'));
        for (const form of forms) assert.ok(!text.includes(form), `found ${form} in config_vars`);
        // Nor anywhere else in the database (the change log, say).
        const tables = await client.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        );
        for (const { table_name } of tables.rows) {
          const rowsText = await client.query<{ row: string }>(
            `SELECT row_to_json(t)::text AS row FROM "${table_name}" t`,
          );
          const all = rowsText.rows.map((r) => r.row).join('\n');
          for (const form of forms)
            assert.ok(!all.includes(form), `found ${form} in ${table_name}`);
        }
      } finally {
        await client.end();
      }
    });

    it('binds each envelope to its app and key', async () => {
      const { store, config, appId } = await setUp(backend);
      const otherApp = await insertApp(store, 'other');
      await config.patch(appId, { TOKEN: 'app-one-token' });
      await config.patch(otherApp, { TOKEN: 'app-two-token', MOVED: 'x' });
      const [source] = await rows(store, appId);
      assert.ok(source);
      // An envelope copied to another app, or to another key, does not open.
      await store.db
        .updateTable('config_vars')
        .set({ envelope: source.envelope })
        .where('app_id', '=', otherApp)
        .execute();
      await assert.rejects(
        config.get(otherApp, { reveal: true }),
        (error: unknown) =>
          error instanceof SecretsError &&
          error.code === SecretsErrorCodes.SECRETS_TAMPERED &&
          !error.message.includes('app-one-token'),
      );
      // Without reveal nothing is decrypted, so the keys still list.
      assert.deepEqual(await config.get(otherApp, { reveal: false }), { MOVED: null, TOKEN: null });
      assert.deepEqual(await config.snapshot(appId), { TOKEN: 'app-one-token' });
    });

    it('goes when its app is deleted', async () => {
      const { store, config, appId } = await setUp(backend);
      const otherApp = await insertApp(store, 'other');
      await config.patch(appId, { A: '1', B: '2' });
      await config.patch(otherApp, { C: '3' });
      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', appId).execute());
      assert.deepEqual(await rows(store, appId), []);
      assert.deepEqual(await config.snapshot(otherApp), { C: '3' });
      await assert.rejects(config.get(appId, { reveal: false }), NotFoundError);
    });

    it('refuses to open values under another master key', async () => {
      const { store, config, appId } = await setUp(backend);
      await config.patch(appId, { K: 'v' });
      const other = new ConfigService({
        store,
        secrets: new SecretBox(masterKeyFromBytes(randomBytes(32))),
      });
      await assert.rejects(
        other.snapshot(appId),
        (error: unknown) =>
          error instanceof SecretsError &&
          error.code === SecretsErrorCodes.SECRETS_WRONG_MASTER_KEY,
      );
      // Setting needs the old value to compare, so it fails the same way, writing nothing.
      await assert.rejects(other.patch(appId, { K: 'w' }), SecretsError);
      assert.deepEqual(await config.snapshot(appId), { K: 'v' });
    });
  });
}
