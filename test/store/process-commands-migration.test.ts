// Migration 10 rewrites the processes of releases made before processes were a tagged union:
// command strings, and the placeholders '(static)' and '(image CMD)', on both stores.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migrations } from '../../src/store/index.js';
import { backends, createTestDatabase } from '../support/databases.js';
import { insertApp, insertTestUser, reopenStore } from '../support/stores.js';

const before = migrations.slice(
  0,
  migrations.findIndex((m) => m.name === 'process commands'),
);

/** Releases as a Berth before the migration stored them: process type → string. */
const OLD_RELEASES: [number, Record<string, string>][] = [
  [1, { web: '(static)' }],
  [2, { web: '(image CMD)', worker: 'node worker.js' }],
  // Declaration order is kept, also when it is not alphabetical.
  [3, { worker: 'celery -A app "quoted" \\ back', web: 'gunicorn app:app', clock: 'é ☃ $PORT' }],
  [4, {}],
  // A command that merely looks like a placeholder is not one.
  [5, { web: '(static) ' }],
];

for (const backend of backends) {
  describe(`the process commands migration on ${backend}`, () => {
    it('turns every stored process into a command, a static site or an image CMD', async () => {
      const location = await createTestDatabase(backend);
      try {
        const old = await reopenStore(location, { migrations: before, watchedTables: [] });
        await insertTestUser(old);
        const appId = await insertApp(old, 'legacy');
        await old.transact((tx) =>
          tx
            .insertInto('releases')
            .values(
              OLD_RELEASES.map(([version, processes]) => ({
                id: `r-${version}`,
                app_id: appId,
                version,
                artifact_id: null,
                stack: null,
                processes: JSON.stringify(processes),
                formation: '{}',
                config_envelope: 'sealed',
                description: 'before',
                deployment_id: null,
                created_at: new Date().toISOString(),
              })),
            )
            .execute(),
        );
        await old.close();

        const current = await reopenStore(location);
        const rows = await current.db
          .selectFrom('releases')
          .select(['version', 'processes', 'config_envelope'])
          .orderBy('version')
          .execute();
        await current.close();
        const migrated = rows.map((row) => JSON.parse(row.processes) as Record<string, unknown>);
        assert.deepEqual(migrated, [
          { web: { kind: 'static' } },
          { web: { kind: 'image' }, worker: { kind: 'command', line: 'node worker.js' } },
          {
            worker: { kind: 'command', line: 'celery -A app "quoted" \\ back' },
            web: { kind: 'command', line: 'gunicorn app:app' },
            clock: { kind: 'command', line: 'é ☃ $PORT' },
          },
          {},
          { web: { kind: 'command', line: '(static) ' } },
        ]);
        assert.deepEqual(Object.keys(migrated[2] ?? {}), ['worker', 'web', 'clock']);
        assert.deepEqual(
          rows.map((row) => row.config_envelope),
          OLD_RELEASES.map(() => 'sealed'),
          'nothing else of a release changes',
        );
      } finally {
        await location.drop();
      }
    });
  });
}
