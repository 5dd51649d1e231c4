import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  ProcessConfigLimits,
  ProcessConfigService,
  type ProcessConfigs,
} from '../../../src/domain/process-configs/index.js';
import { ErrorCodes, InputError, NotFoundError } from '../../../src/errors/index.js';
import {
  masterKeyFromBytes,
  SecretBox,
  SecretsError,
  SecretsErrorCodes,
} from '../../../src/secrets/index.js';
import type { Store } from '../../../src/store/index.js';
import { backends, type Backend } from '../../support/databases.js';
import { insertApp, openTestStore } from '../../support/stores.js';

const secrets = new SecretBox(masterKeyFromBytes(randomBytes(32)));

async function setUp(backend: Backend) {
  const opened = await openTestStore(backend);
  const configs = new ProcessConfigService({ store: opened.store, secrets });
  const appId = await insertApp(opened.store, 'web');
  return { ...opened, configs, appId };
}

async function rows(store: Store, appId?: string) {
  let query = store.db
    .selectFrom('process_configs')
    .selectAll()
    .orderBy('app_id')
    .orderBy('process_type');
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

function many(prefix: string, n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, `v${i}`]));
}

for (const backend of backends) {
  describe(`process configs on ${backend}`, () => {
    it('round-trips each process type, sorted', async () => {
      const { configs, appId } = await setUp(backend);
      assert.deepEqual(await configs.get(appId), {});
      const result = await configs.put(appId, {
        worker: { QUEUE: 'default', CONCURRENCY: '4' },
        web: { WEB_CONCURRENCY: '2', _under: '' },
      });
      assert.deepEqual(result, { web: true, worker: true });
      const got = await configs.get(appId);
      assert.deepEqual(got, {
        web: { WEB_CONCURRENCY: '2', _under: '' },
        worker: { CONCURRENCY: '4', QUEUE: 'default' },
      });
      assert.deepEqual(Object.keys(got), ['web', 'worker']);
      assert.deepEqual(Object.keys(got['worker'] ?? {}), ['CONCURRENCY', 'QUEUE']);
    });

    it('replaces only the types given and says which changed', async () => {
      const { store, configs, appId } = await setUp(backend);
      await configs.put(appId, { web: { A: '1', B: '2' }, worker: { Q: 'x' } });
      const before = await rows(store, appId);

      // The same maps, in another key order: nothing changes, nothing is written.
      assert.deepEqual(await configs.put(appId, { web: { B: '2', A: '1' }, worker: { Q: 'x' } }), {
        web: false,
        worker: false,
      });
      assert.deepEqual(await rows(store, appId), before);

      // A map replaces the type's map whole: B goes.
      assert.deepEqual(await configs.put(appId, { web: { A: '1' }, clock: { TICK: '1s' } }), {
        clock: true,
        web: true,
      });
      assert.deepEqual(await configs.get(appId), {
        clock: { TICK: '1s' },
        web: { A: '1' },
        worker: { Q: 'x' },
      });
      const worker = (await rows(store, appId)).find((r) => r.process_type === 'worker');
      assert.deepEqual(
        worker,
        before.find((r) => r.process_type === 'worker'),
      );
      assert.deepEqual(await configs.put(appId, {}), {});
    });

    it('deletes a type with an empty map', async () => {
      const { store, configs, appId } = await setUp(backend);
      await configs.put(appId, { web: { A: '1' }, worker: { Q: 'x' } });
      assert.deepEqual(await configs.put(appId, { worker: {}, web: { A: '1' } }), {
        web: false,
        worker: true,
      });
      assert.deepEqual(
        (await rows(store, appId)).map((r) => r.process_type),
        ['web'],
      );
      assert.deepEqual(await configs.get(appId), { web: { A: '1' } });
      // Deleting what is not there is no change.
      assert.deepEqual(await configs.put(appId, { worker: {}, other: {} }), {
        other: false,
        worker: false,
      });
      assert.deepEqual(await configs.put(appId, { web: {} }), { web: true });
      assert.deepEqual(await rows(store, appId), []);
      assert.deepEqual(await configs.get(appId), {});
    });

    it('keeps created rows and moves updated_at only on a change', async () => {
      const { store, appId } = await setUp(backend);
      let now = new Date('2024-01-01T00:00:00.000Z');
      const configs = new ProcessConfigService({ store, secrets, clock: () => now });
      await configs.put(appId, { web: { K: 'one' } });
      now = new Date('2024-02-01T00:00:00.000Z');
      await configs.put(appId, { web: { K: 'one' } });
      assert.equal((await rows(store, appId))[0]?.updated_at, '2024-01-01T00:00:00.000Z');
      await configs.put(appId, { web: { K: 'two' } });
      assert.equal((await rows(store, appId))[0]?.updated_at, '2024-02-01T00:00:00.000Z');
    });

    it('writes nothing when any entry is invalid, and never echoes a value', async () => {
      const { store, configs, appId } = await setUp(backend);
      await configs.put(appId, { web: { KEEP: 'kept' } });
      const before = await rows(store);
      const secret = 'do-not-echo-me';
      const good = { GOOD: secret };
      const bad: [Record<string, unknown>, string][] = [
        [{ web: good, Worker: good }, 'process type "Worker"'],
        [{ web: good, '1st': good }, 'process type "1st"'],
        [{ web: good, under_score: good }, 'process type "under_score"'],
        [{ web: good, ['w'.repeat(31)]: good }, 'at most 30 characters'],
        [{ web: good, '': good }, 'process type ""'],
        [{ web: good, worker: { 'BAD-KEY': secret } }, 'config key "BAD-KEY"'],
        [{ web: good, worker: { '1ABC': secret } }, 'config key "1ABC"'],
        [{ web: good, worker: { ['K'.repeat(257)]: secret } }, 'at most 256'],
        [{ web: good, worker: { NUM: 42 } }, 'must be a string; got a number'],
        [{ web: good, worker: { NIL: null } }, 'must be a string; got null'],
        [{ web: good, worker: { OBJ: { secret } } }, 'must be a string; got an object'],
        [{ web: good, worker: { NUL: `a\0${secret}` } }, 'NUL'],
        [{ web: good, worker: { S: `${secret}\uD800` } }, 'well-formed'],
        [{ web: good, worker: [secret] }, 'got an array'],
        [{ web: good, worker: secret }, 'got a string'],
        [{ web: good, worker: null }, 'got null'],
      ];
      for (const [input, fragment] of bad) {
        await assert.rejects(
          configs.put(appId, input as ProcessConfigs),
          inputError(fragment, secret),
        );
      }
      await assert.rejects(
        configs.put(appId, [] as unknown as ProcessConfigs),
        inputError('must be an object'),
      );
      assert.deepEqual(await rows(store), before);
      assert.deepEqual(await configs.get(appId), { web: { KEEP: 'kept' } });
    });

    it('limits value sizes, keys per type and process types', async () => {
      const { store, configs, appId } = await setUp(backend);
      const max = ProcessConfigLimits.maxValueBytes;
      assert.equal(max, 32 * 1024);
      const atLimit = 'é'.repeat(max / 2); // two bytes each in UTF-8
      assert.deepEqual(await configs.put(appId, { web: { BIG: atLimit } }), { web: true });
      assert.equal((await configs.get(appId))['web']?.['BIG'], atLimit);
      await assert.rejects(
        configs.put(appId, { web: { BIG: `${atLimit}x` } }),
        inputError(`is ${max + 1} bytes`),
      );

      assert.equal(ProcessConfigLimits.maxKeysPerType, 500);
      assert.deepEqual(await configs.put(appId, { worker: many('K', 500) }), { worker: true });
      await assert.rejects(
        configs.put(appId, { worker: many('K', 501) }),
        inputError('has 501 keys'),
      );

      assert.equal(ProcessConfigLimits.maxProcessTypes, 30);
      const types = (n: number, from = 0) =>
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${from + i}`, { K: 'v' }]));
      await assert.rejects(configs.put(appId, types(31)), inputError('name 31 process types'));
      // web and worker are set: 28 more make 30, one more would make 31.
      assert.equal(Object.keys(await configs.put(appId, types(28))).length, 28);
      await assert.rejects(
        configs.put(appId, types(1, 28)),
        inputError('config for 31 process types'),
      );
      // Replacing one type by another keeps the count.
      assert.deepEqual(await configs.put(appId, { p0: {}, p28: { K: 'v' } }), {
        p0: true,
        p28: true,
      });
      assert.equal((await rows(store, appId)).length, 30);
    });

    it('stores each map encrypted and bound to its app and type', async () => {
      const { store, configs, appId } = await setUp(backend);
      const otherApp = await insertApp(store, 'other');
      const plaintext = `berth-plaintext-${randomBytes(12).toString('hex')}`;
      await configs.put(appId, { web: { DISTINCTIVE_KEY: plaintext }, worker: { W: 'w' } });
      await configs.put(otherApp, { web: { O: 'o' } });

      const raw = JSON.stringify(await rows(store));
      assert.ok(raw.includes('worker'), 'the search should see the rows');
      for (const form of [
        plaintext,
        'DISTINCTIVE_KEY',
        Buffer.from(plaintext).toString('base64'),
        Buffer.from(plaintext).toString('hex'),
      ]) {
        assert.ok(!raw.includes(form), `found ${form} in process_configs`);
      }

      // An envelope copied to another type, or to another app, does not open.
      const [web] = await rows(store, appId);
      assert.ok(web);
      await store.db
        .updateTable('process_configs')
        .set({ envelope: web.envelope })
        .where((eb) =>
          eb.or([
            eb.and([eb('app_id', '=', appId), eb('process_type', '=', 'worker')]),
            eb('app_id', '=', otherApp),
          ]),
        )
        .execute();
      const tampered = (error: unknown) =>
        error instanceof SecretsError &&
        error.code === SecretsErrorCodes.SECRETS_TAMPERED &&
        !error.message.includes(plaintext);
      await assert.rejects(configs.get(appId), tampered);
      await assert.rejects(configs.get(otherApp), tampered);
    });

    it('answers NotFound for an unknown app', async () => {
      const { store, configs } = await setUp(backend);
      const notFound = (error: unknown) =>
        error instanceof NotFoundError && error.code === ErrorCodes.APP_NOT_FOUND;
      await assert.rejects(configs.get('no-such-app'), notFound);
      await assert.rejects(configs.put('no-such-app', { web: { A: '1' } }), notFound);
      assert.deepEqual(await rows(store), []);
    });

    it('keeps keys like __proto__ as ordinary keys', async () => {
      const { configs, appId } = await setUp(backend);
      const vars = JSON.parse('{"__proto__": "p", "constructor": "c"}') as Record<string, string>;
      await configs.put(appId, { constructor: vars });
      const got = await configs.get(appId);
      assert.deepEqual(Object.keys(got), ['constructor']);
      assert.deepEqual(Object.keys(got['constructor'] ?? {}), ['__proto__', 'constructor']);
      assert.equal(JSON.stringify(got), '{"constructor":{"__proto__":"p","constructor":"c"}}');
    });

    it('applies concurrent puts of different types without losing any', async () => {
      const { configs, appId } = await setUp(backend);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => configs.put(appId, { [`p${i}`]: { I: `${i}` } })),
      );
      const got = await configs.get(appId);
      assert.equal(Object.keys(got).length, 10);
      for (let i = 0; i < 10; i++) assert.deepEqual(got[`p${i}`], { I: `${i}` });
    });

    it('goes when its app is deleted', async () => {
      const { store, configs, appId } = await setUp(backend);
      const otherApp = await insertApp(store, 'other');
      await configs.put(appId, { web: { A: '1' } });
      await configs.put(otherApp, { web: { B: '2' } });
      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', appId).execute());
      assert.deepEqual(
        (await rows(store)).map((r) => r.app_id),
        [otherApp],
      );
    });
  });
}
