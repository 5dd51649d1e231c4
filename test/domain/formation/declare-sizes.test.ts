// FormationService.declareSizes on both stores: app.json's sizes give rows only to the process
// types the app never scaled or sized, with the count the release declares; a scaled type and
// a type the release does not run are left alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormationService, formationState } from '../../../src/domain/formation/index.js';
import { ErrorCodes, InputError } from '../../../src/errors/index.js';
import { backends } from '../../support/databases.js';
import { insertApp, openTestStore } from '../../support/stores.js';

const MiB = 1024 ** 2;

for (const backend of backends) {
  describe(`formation sizes declared by a release (${backend})`, () => {
    it('sizes unsized types once, with the declared count, and leaves the rest', async () => {
      const { store } = await openTestStore(backend);
      const appId = await insertApp(store, 'sized');
      const release = {
        processes: { web: {}, worker: {}, clock: {} },
        formation: { web: 2, worker: 0, clock: 1 },
      };
      const formation = new FormationService({
        state: formationState(store),
        releases: { latestProcesses: () => Promise.resolve(release) },
      });
      await formation.patch(appId, { clock: 3 });
      const sized = await formation.declareSizes(appId, release, {
        web: 1024 * MiB,
        worker: 512 * MiB,
        clock: 512 * MiB,
        gone: 512 * MiB,
      });
      assert.deepEqual(sized, ['web', 'worker']);
      assert.deepEqual(await formation.get(appId), {
        web: { count: 2, memory: '1G', memoryBytes: 1024 * MiB, cpu: null },
        worker: { count: 0, memory: '512M', memoryBytes: 512 * MiB, cpu: null },
        clock: { count: 3, memory: null, memoryBytes: null, cpu: null },
      });
      // Declared again (a later deploy with other sizes), nothing changes.
      assert.deepEqual(await formation.declareSizes(appId, release, { web: 2560 * MiB }), []);
      assert.equal((await formation.get(appId))['web']?.memory, '1G');
      const tiny = await insertApp(store, 'tiny');
      await assert.rejects(
        formation.declareSizes(tiny, release, { web: 1 }),
        (error: unknown) =>
          error instanceof InputError && error.code === ErrorCodes.FORMATION_INVALID,
      );
    });
  });
}
