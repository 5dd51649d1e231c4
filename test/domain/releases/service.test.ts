import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { ConfigService } from '../../../src/domain/config/index.js';
import {
  ReleasesService,
  shellCommand,
  type ProcessCommand,
  type ReleaseInput,
} from '../../../src/domain/releases/index.js';
import { ErrorCodes, InputError, NotFoundError } from '../../../src/errors/index.js';
import {
  masterKeyFromBytes,
  SecretBox,
  SecretsError,
  SecretsErrorCodes,
} from '../../../src/secrets/index.js';
import { SQLITE_FILE, type Store } from '../../../src/store/index.js';
import { backends, type Backend, type TestDatabase } from '../../support/databases.js';
import { insertApp, openTestStore } from '../../support/stores.js';

const secrets = new SecretBox(masterKeyFromBytes(randomBytes(32)));

async function setUp(backend: Backend) {
  const opened = await openTestStore(backend);
  const config = new ConfigService({ store: opened.store, secrets });
  const releases = new ReleasesService({ store: opened.store, secrets, config });
  const appId = await insertApp(opened.store, 'web');
  return { ...opened, config, releases, appId };
}

/** Artifacts are made by the builder; here a row is enough for the foreign key. */
async function insertArtifact(store: Store, id: string): Promise<string> {
  await store.db
    .insertInto('artifacts')
    .values({ id, size_bytes: 1024, file_count: 3, created_at: new Date().toISOString() })
    .execute();
  return id;
}

function input(appId: string, overrides: Partial<ReleaseInput> = {}): ReleaseInput {
  return {
    appId,
    artifactId: null,
    stack: 'node',
    processes: { web: shellCommand('node server.js') },
    formation: { web: 1 },
    description: 'Deploy',
    ...overrides,
  };
}

async function rows(store: Store) {
  return store.db.selectFrom('releases').selectAll().orderBy('app_id').orderBy('version').execute();
}

/** Every byte of the store as text: the SQLite files, or every row of every PostgreSQL table. */
async function databaseText(location: TestDatabase): Promise<string> {
  if (location.backend === 'sqlite') {
    const files = [SQLITE_FILE, `${SQLITE_FILE}-wal`]
      .map((name) => path.join(location.dataDir, name))
      .filter((file) => existsSync(file));
    return Buffer.concat(files.map((file) => readFileSync(file))).toString('latin1');
  }
  const client = new pg.Client({ connectionString: location.databaseUrl });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const texts: string[] = [];
    for (const { table_name } of tables.rows) {
      const result = await client.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM "${table_name}" t`,
      );
      texts.push(...result.rows.map((r) => r.row));
    }
    return texts.join('\n');
  } finally {
    await client.end();
  }
}

function notFound(code: string, fragment: string) {
  return (error: unknown) => {
    assert.ok(error instanceof NotFoundError, `expected a NotFoundError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(fragment), error.message);
    return true;
  };
}

function inputError(fragment: string) {
  return (error: unknown) => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    assert.equal(error.code, ErrorCodes.INVALID_INPUT);
    assert.ok(error.message.includes(fragment), error.message);
    return true;
  };
}

for (const backend of backends) {
  describe(`releases on ${backend}`, () => {
    it('numbers releases v1, v2, … per app', async () => {
      const { store, releases, appId } = await setUp(backend);
      const otherApp = await insertApp(store, 'other');
      const artifact = await insertArtifact(store, 'sha256-one');
      let now = new Date('2024-03-01T00:00:00.000Z');
      const timed = new ReleasesService({
        store,
        secrets,
        config: new ConfigService({ store, secrets }),
        clock: () => now,
      });

      const v1 = await timed.create(
        input(appId, { artifactId: artifact, deploymentId: 'd-1', description: 'Deploy abc' }),
      );
      assert.equal(v1.version, 1);
      assert.equal(v1.appId, appId);
      assert.equal(v1.artifactId, artifact);
      assert.equal(v1.stack, 'node');
      assert.deepEqual(v1.processes, { web: { kind: 'command', line: 'node server.js' } });
      assert.deepEqual(v1.formation, { web: 1 });
      assert.equal(v1.description, 'Deploy abc');
      assert.equal(v1.deploymentId, 'd-1');
      assert.equal(v1.createdAt, '2024-03-01T00:00:00.000Z');

      now = new Date('2024-03-02T00:00:00.000Z');
      const v2 = await timed.create(
        input(appId, { processes: { web: shellCommand('a'), worker: shellCommand('b') } }),
      );
      assert.equal(v2.version, 2);
      assert.equal(v2.deploymentId, null);
      assert.equal((await releases.create(input(otherApp))).version, 1);
      assert.equal((await releases.create(input(appId))).version, 3);

      assert.deepEqual(await releases.get(appId, 1), v1);
      assert.deepEqual(await releases.get(appId, 2), v2);
      assert.equal((await releases.latest(appId))?.version, 3);
      assert.equal((await releases.latest(otherApp))?.version, 1);
      assert.deepEqual(
        (await rows(store)).map((r) => [r.app_id, r.version]),
        [
          [otherApp, 1],
          [appId, 1],
          [appId, 2],
          [appId, 3],
        ],
      );
    });

    it('gives 10 concurrent creates for one app the versions 1..10, each once', async () => {
      const { config, releases, appId } = await setUp(backend);
      await config.patch(appId, { SHARED: 'same' });
      const made = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          releases.create(input(appId, { description: `Deploy ${i}` })),
        ),
      );
      assert.deepEqual(
        made.map((r) => r.version).sort((a, b) => a - b),
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
      const listed = await releases.list(appId);
      assert.deepEqual(
        listed.map((r) => r.version),
        [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
      );
      assert.deepEqual(
        listed.map((r) => r.description).sort(),
        Array.from({ length: 10 }, (_, i) => `Deploy ${i}`).sort(),
      );
      // Each snapshot was sealed for the version it got, after any retries.
      for (const release of made) {
        assert.deepEqual(await releases.configOf(release), { SHARED: 'same' });
      }
    });

    it('keeps the newest release on the newest config when changes race', async () => {
      const { config, releases, appId } = await setUp(backend);
      await releases.create(input(appId));
      // What the API does: patch, then make a release; several callers at once.
      await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          await config.patch(appId, { [`K${i}`]: `v${i}` });
          await releases.onConfigChanged(appId);
        }),
      );
      const latest = await releases.latest(appId);
      assert.ok(latest);
      assert.equal(latest.version, 7);
      assert.deepEqual(await releases.configOf(latest), await config.snapshot(appId));
      // Each release's snapshot holds every var of the one before it.
      let previous: string[] = [];
      for (let version = 1; version <= 7; version++) {
        const keys = Object.keys(await releases.configOf(await releases.get(appId, version)));
        for (const key of previous) assert.ok(keys.includes(key), `v${version} lost ${key}`);
        previous = keys;
      }
    });

    it('seals the config snapshot: raw rows hold no value, and it opens to the config of then', async () => {
      const { store, location, config, releases, appId } = await setUp(backend);
      const plaintext = `berth-plaintext-${randomBytes(12).toString('hex')}`;
      await config.patch(appId, { DISTINCTIVE_KEY: plaintext, OTHER: 'first' });
      const v1 = await releases.create(input(appId));
      await config.patch(appId, { DISTINCTIVE_KEY: null, OTHER: 'second', NEW: 'n' });
      const v2 = await releases.create(input(appId));

      assert.deepEqual(await releases.configOf(v1), { DISTINCTIVE_KEY: plaintext, OTHER: 'first' });
      assert.deepEqual(await releases.configOf(v2), { NEW: 'n', OTHER: 'second' });
      assert.deepEqual(await releases.configOf(await releases.get(appId, 1)), {
        DISTINCTIVE_KEY: plaintext,
        OTHER: 'first',
      });

      const forms = [
        plaintext,
        Buffer.from(plaintext).toString('base64'),
        Buffer.from(plaintext).toString('base64url'),
        Buffer.from(plaintext).toString('hex'),
      ];
      const stored = await rows(store);
      assert.deepEqual(
        stored.map((r) => r.config_envelope),
        [v1.configEnvelope, v2.configEnvelope],
      );
      // Not even the names are in clear in a release: they are part of the snapshot.
      const releaseText = JSON.stringify(stored);
      for (const form of [...forms, 'DISTINCTIVE_KEY']) {
        assert.ok(!releaseText.includes(form), `found ${form} in releases`);
      }
      // Nor is the value anywhere else in the database (the change log, say).
      const everything = await databaseText(location);
      assert.ok(everything.includes(v2.id), 'the search should see the releases');
      for (const form of forms) assert.ok(!everything.includes(form), `found ${form}`);
    });

    it('binds each snapshot to its app and version', async () => {
      const { store, config, releases, appId } = await setUp(backend);
      await config.patch(appId, { TOKEN: 'v1-token' });
      const v1 = await releases.create(input(appId));
      const v2 = await releases.create(input(appId));
      // An envelope copied to another version does not open.
      await store.db
        .updateTable('releases')
        .set({ config_envelope: v1.configEnvelope })
        .where('id', '=', v2.id)
        .execute();
      await assert.rejects(
        releases.configOf(await releases.get(appId, 2)),
        (error: unknown) =>
          error instanceof SecretsError &&
          error.code === SecretsErrorCodes.SECRETS_TAMPERED &&
          !error.message.includes('v1-token'),
      );
      await assert.rejects(releases.configOf({ ...v1, appId: 'app-other' }), SecretsError);
      assert.deepEqual(await releases.configOf(v1), { TOKEN: 'v1-token' });
    });

    it('makes a release on a config change only when the app has one', async () => {
      const { store, config, releases, appId } = await setUp(backend);
      await config.patch(appId, { A: '1' });
      assert.equal(await releases.onConfigChanged(appId), undefined);
      assert.deepEqual(await rows(store), []);

      const artifact = await insertArtifact(store, 'sha256-built');
      const v1 = await releases.create(
        input(appId, {
          artifactId: artifact,
          stack: 'python',
          processes: { web: shellCommand('gunicorn app'), worker: shellCommand('celery') },
          formation: { web: 2, worker: 1 },
          deploymentId: 'd-7',
        }),
      );
      await config.patch(appId, { A: '2', B: 'b' });
      const v2 = await releases.onConfigChanged(appId);
      assert.ok(v2);
      assert.equal(v2.version, 2);
      assert.equal(v2.description, 'Set config vars');
      assert.equal(v2.artifactId, artifact);
      assert.equal(v2.stack, 'python');
      assert.deepEqual(v2.processes, v1.processes);
      assert.deepEqual(v2.formation, v1.formation);
      assert.equal(v2.deploymentId, null);
      assert.deepEqual(await releases.configOf(v2), { A: '2', B: 'b' });
      assert.deepEqual(await releases.configOf(v1), { A: '1' });
      await assert.rejects(
        releases.onConfigChanged('no-such-app'),
        notFound(ErrorCodes.APP_NOT_FOUND, 'no-such-app'),
      );
    });

    it('rolls back with a new release: the old artifact and processes, the current config', async () => {
      const { store, config, releases, appId } = await setUp(backend);
      const first = await insertArtifact(store, 'sha256-first');
      const second = await insertArtifact(store, 'sha256-second');
      await config.patch(appId, { MODE: 'one' });
      await releases.create(
        input(appId, {
          artifactId: first,
          stack: 'node',
          processes: { web: shellCommand('node v1.js') },
          formation: { web: 1 },
          deploymentId: 'd-1',
        }),
      );
      await releases.create(
        input(appId, {
          artifactId: second,
          stack: 'node-22',
          processes: { web: shellCommand('node v2.js'), worker: shellCommand('node work.js') },
          formation: { web: 3, worker: 2 },
          deploymentId: 'd-2',
        }),
      );
      await config.patch(appId, { MODE: 'three', ADDED: 'x' });
      await releases.onConfigChanged(appId);

      const v4 = await releases.rollback(appId, 1);
      assert.equal(v4.version, 4);
      assert.equal(v4.description, 'Rollback to v1');
      assert.equal(v4.artifactId, first);
      assert.equal(v4.stack, 'node');
      assert.deepEqual(v4.processes, { web: shellCommand('node v1.js') });
      assert.deepEqual(v4.formation, { web: 1 });
      assert.equal(v4.deploymentId, null);
      assert.deepEqual(await releases.configOf(v4), { ADDED: 'x', MODE: 'three' });

      const v5 = await releases.rollback(appId, 2);
      assert.equal(v5.version, 5);
      assert.equal(v5.description, 'Rollback to v2');
      assert.equal(v5.artifactId, second);
      assert.deepEqual(v5.formation, { web: 3, worker: 2 });
      // Rolling back never rewrites history.
      assert.equal((await releases.get(appId, 1)).description, 'Deploy');
      assert.equal((await rows(store)).length, 5);
    });

    it('refuses bad rollbacks and writes nothing', async () => {
      const { store, releases, appId } = await setUp(backend);
      await releases.create(input(appId, { artifactId: null }));
      const artifact = await insertArtifact(store, 'sha256-x');
      await releases.create(input(appId, { artifactId: artifact }));
      const before = await rows(store);

      for (const version of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(releases.rollback(appId, version), inputError('positive integer'));
      }
      await assert.rejects(
        releases.rollback(appId, '1' as unknown as number),
        inputError('positive integer'),
      );
      await assert.rejects(
        releases.rollback(appId, 3),
        notFound(ErrorCodes.NOT_FOUND, `has no release v3`),
      );
      await assert.rejects(releases.rollback(appId, 1), inputError('v1 has no artifact'));
      await assert.rejects(
        releases.rollback('no-such-app', 1),
        notFound(ErrorCodes.APP_NOT_FOUND, 'no-such-app'),
      );
      assert.deepEqual(await rows(store), before);
    });

    it('lists newest first with config names and never values', async () => {
      const { store, config, releases, appId } = await setUp(backend);
      const secret = `do-not-list-${randomBytes(8).toString('hex')}`;
      const artifact = await insertArtifact(store, 'sha256-listed');
      await config.patch(appId, { B_KEY: secret, A_KEY: `${secret}-a` });
      await releases.create(input(appId, { artifactId: artifact, deploymentId: 'd-9' }));
      await config.patch(appId, { C_KEY: `${secret}-c`, B_KEY: null });
      await releases.onConfigChanged(appId);

      const listed = await releases.list(appId);
      assert.equal(JSON.stringify(listed).includes(secret), false);
      assert.deepEqual(listed, [
        {
          version: 2,
          description: 'Set config vars',
          artifactId: artifact,
          stack: 'node',
          processes: { web: 'node server.js' },
          formation: { web: 1 },
          configKeys: ['A_KEY', 'C_KEY'],
          deploymentId: null,
          createdAt: listed[0]?.createdAt,
        },
        {
          version: 1,
          description: 'Deploy',
          artifactId: artifact,
          stack: 'node',
          processes: { web: 'node server.js' },
          formation: { web: 1 },
          configKeys: ['A_KEY', 'B_KEY'],
          deploymentId: 'd-9',
          createdAt: listed[1]?.createdAt,
        },
      ]);
      for (const summary of listed) {
        assert.equal(Object.hasOwn(summary, 'configEnvelope'), false);
        assert.match(summary.createdAt, /^\d{4}-\d\d-\d\dT/);
      }
      assert.deepEqual(await releases.list(await insertApp(store, 'empty')), []);
      await assert.rejects(
        releases.list('no-such-app'),
        notFound(ErrorCodes.APP_NOT_FOUND, 'no-such-app'),
      );
    });

    it('answers get and latest for missing releases and apps', async () => {
      const { releases, appId } = await setUp(backend);
      assert.equal(await releases.latest(appId), undefined);
      await assert.rejects(
        releases.get(appId, 1),
        notFound(ErrorCodes.NOT_FOUND, `app '${appId}' has no release v1`),
      );
      await assert.rejects(releases.get(appId, 0), inputError('positive integer'));
      await assert.rejects(
        releases.latest('no-such-app'),
        notFound(ErrorCodes.APP_NOT_FOUND, 'no-such-app'),
      );
      await assert.rejects(
        releases.get('no-such-app', 1),
        notFound(ErrorCodes.APP_NOT_FOUND, 'no-such-app'),
      );
    });

    it('refuses malformed releases and unknown artifacts, writing nothing', async () => {
      const { store, releases, appId } = await setUp(backend);
      const bad: [Partial<ReleaseInput>, string][] = [
        [{ processes: { Web: shellCommand('x') } }, 'process type "Web"'],
        [{ processes: { web: shellCommand('') } }, 'non-empty string'],
        [
          { processes: { web: { kind: 'command', line: 42 } as unknown as ProcessCommand } },
          'non-empty string',
        ],
        [{ processes: { web: 'node x.js' as unknown as ProcessCommand } }, 'an object with a kind'],
        [{ processes: { web: { kind: 'shell' } as unknown as ProcessCommand } }, 'kind "shell"'],
        [{ processes: [] as unknown as Record<string, ProcessCommand> }, 'must be an object'],
        [{ formation: { web: -1 } }, 'non-negative integer'],
        [{ formation: { web: 1.5 } }, 'non-negative integer'],
        [{ formation: { 'bad type': 1 } }, 'process type "bad type"'],
        [{ description: 'd'.repeat(1025) }, 'at most 1024'],
        [{ stack: '' }, 'stack must be null or a string'],
        [{ artifactId: 'sha256-missing' }, "no artifact has the id 'sha256-missing'"],
      ];
      for (const [overrides, fragment] of bad) {
        await assert.rejects(releases.create(input(appId, overrides)), inputError(fragment));
      }
      await assert.rejects(
        releases.create(input('no-such-app')),
        notFound(ErrorCodes.APP_NOT_FOUND, 'no-such-app'),
      );
      assert.deepEqual(await rows(store), []);
    });

    it('goes when its app is deleted', async () => {
      const { store, releases, appId } = await setUp(backend);
      const otherApp = await insertApp(store, 'other');
      await releases.create(input(appId));
      await releases.create(input(otherApp));
      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', appId).execute());
      assert.deepEqual(
        (await rows(store)).map((r) => r.app_id),
        [otherApp],
      );
    });
  });
}
