// The list of every app's latest task (GET /deployments): one entry per app, newest first,
// with the app's name read in the same query, on both stores.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeploymentsService, deploymentsState } from '../../../src/domain/deployments/index.js';
import { backends } from '../../support/databases.js';
import { insertApp, openTestStore, TEST_USER_ID } from '../../support/stores.js';
import { compiledDefaults } from '../../support/compiled-defaults.js';

for (const backend of backends) {
  describe(`every app's latest task (${backend})`, () => {
    it('pages one entry per app, newest first, each with its app name', async () => {
      const { store } = await openTestStore(backend);
      let now = Date.parse('2026-01-01T00:00:00Z');
      const deployments = new DeploymentsService({
        state: deploymentsState(store),
        maxEventBytes: compiledDefaults.deployLogLimitBytes,
        clock: () => new Date((now += 1000)),
      });
      const enqueue = async (appId: string, appName: string) => {
        const task = await deployments.enqueue({
          appId,
          appName,
          kind: 'deploy',
          source: { kind: 'bundle', ref: null, sha: null },
          options: { autoconfigure: false },
        });
        assert.ok(await deployments.claim(task.id, 'controller', 60_000));
        const handle = deployments.openTask(task.id, 'controller', {
          steps: [],
          onStatus: () => undefined,
          leaseMs: 60_000,
        });
        assert.ok(await handle.finish({ status: 'succeeded', error: null }));
        return task;
      };
      const names = ['alpha', 'bravo', 'charlie', 'delta'];
      const ids = await Promise.all(names.map((name) => insertApp(store, name)));
      for (const [i, name] of names.entries()) await enqueue(ids[i]!, name);
      // A second task of alpha makes it the newest entry, and its first task is not listed.
      const newest = await enqueue(ids[0]!, 'alpha');

      const page = await deployments.page({ ownerId: TEST_USER_ID, start: 0, count: 3 });
      assert.equal(page.totalEntriesCount, 4);
      assert.equal(page.entriesCount, 3);
      assert.deepEqual(
        page.entries.map((e) => [e.appName, e.deployment.appId]),
        [
          ['alpha', ids[0]],
          ['delta', ids[3]],
          ['charlie', ids[2]],
        ],
      );
      assert.equal(page.entries[0]?.deployment.id, newest.id);
      const rest = await deployments.page({ ownerId: TEST_USER_ID, start: 3, count: 3 });
      assert.deepEqual(
        rest.entries.map((e) => e.appName),
        ['bravo'],
      );
      const nobody = await deployments.page({ ownerId: 'someone-else', start: 0, count: 10 });
      assert.equal(nobody.totalEntriesCount, 0);
    });
  });
}
