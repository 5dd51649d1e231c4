// Router sync against a real builtin router (in this process) and a real store: flushes made
// while a sync runs share one next sync, which serves what they wrote.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WatcherHub } from '../../src/changes/index.js';
import { RoutesService, routesState } from '../../src/domain/routes/index.js';
import { silentLogger } from '../../src/logging/index.js';
import type { RouteTable } from '../../src/router/index.js';
import { RouterSync, type DataPlane } from '../../src/workers/index.js';
import { startTestRouter, type TestRouter } from '../router/support/fixtures.js';
import { backends } from '../support/databases.js';
import { insertApp, openTestStore } from '../support/stores.js';
import { compiledDefaults } from '../support/compiled-defaults.js';

/**
 * The router's control client as router sync sees it, counting the tables it applies; the
 * first apply waits for `release()`, so that flushes can pile up behind a sync that runs.
 */
function countingDataPlane(router: TestRouter) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const applied: RouteTable[] = [];
  const plane: DataPlane = {
    generation: async () => (await router.client.health()).generation,
    async apply(table) {
      if (applied.length === 0) await gate;
      applied.push(table);
      await router.client.putRoutes(table);
    },
    inflight: () => router.client.inflight(),
  };
  return { plane, applied, release };
}

for (const backend of backends) {
  describe(`router sync (${backend})`, () => {
    it('lets every flush made during a sync share one next sync, which serves their change', async () => {
      const { store } = await openTestStore(backend);
      const router = await startTestRouter();
      try {
        const routes = new RoutesService({ state: routesState(store) });
        const { plane, applied, release } = countingDataPlane(router);
        const sync = new RouterSync({
          routes,
          hub: new WatcherHub(),
          router: plane,
          domain: 'localhost',
          logger: silentLogger(),
          checkIntervalMs: compiledDefaults.routerCheckIntervalMs,
        });
        // The first sync reads the (empty) routes, then waits at the router.
        const first = sync.flush();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const appId = await insertApp(store, 'shop');
        await routes.set(appId, 'shop', {
          kind: 'units',
          upstreams: [{ host: '127.0.0.1', port: 1, unitId: 'shop-v1-web-1-abc' }],
        });
        const waiters = Array.from({ length: 20 }, () => sync.flush());
        release();
        await Promise.all([first, ...waiters]);
        assert.equal(applied.length, 2, 'the running sync and one shared next sync');
        assert.deepEqual(
          applied.map((table) => table.routes.map((route) => route.app)),
          [[], ['shop']],
        );
        const serving = await router.client.routes();
        assert.equal(serving.generation, applied[1]?.generation);
        assert.deepEqual(serving.routes[0]?.hosts, ['shop.localhost']);
        // Once idle, a flush is a sync of its own again.
        await sync.flush();
        assert.equal(applied.length, 3);
      } finally {
        await router.close();
      }
    });
  });
}
