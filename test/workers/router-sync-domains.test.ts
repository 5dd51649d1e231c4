// Router sync puts apps' custom hosts and maintenance into the route table it pushes to a real
// builtin router, from a real store: a change to either is a sync, and nothing else moves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WatcherHub } from '../../src/changes/index.js';
import { DomainsService, domainsState } from '../../src/domain/domains/index.js';
import {
  MAINTENANCE_RETRY_AFTER_SECONDS,
  MaintenanceService,
  maintenanceState,
} from '../../src/domain/maintenance/index.js';
import { RoutesService, routesState } from '../../src/domain/routes/index.js';
import { silentLogger } from '../../src/logging/index.js';
import { RouterSync } from '../../src/workers/index.js';
import { startTestRouter } from '../router/support/fixtures.js';
import { backends } from '../support/databases.js';
import { insertApp, openTestStore } from '../support/stores.js';
import { compiledDefaults } from '../support/compiled-defaults.js';

for (const backend of backends) {
  describe(`router sync with domains and maintenance (${backend})`, () => {
    it('routes custom hosts beside <app>.<domain>, and carries maintenance, for routed apps and others', async () => {
      const { store } = await openTestStore(backend);
      const router = await startTestRouter();
      try {
        const routes = new RoutesService({ state: routesState(store) });
        const domains = new DomainsService({
          state: domainsState(store),
          serverDomain: 'localhost',
        });
        const maintenance = new MaintenanceService({ state: maintenanceState(store) });
        const sync = new RouterSync({
          routes,
          domains,
          maintenance,
          hub: new WatcherHub(),
          router: {
            generation: async () => (await router.client.health()).generation,
            apply: (table) => router.client.putRoutes(table).then(() => undefined),
            inflight: () => router.client.inflight(),
          },
          domain: 'localhost',
          logger: silentLogger(),
          checkIntervalMs: compiledDefaults.routerCheckIntervalMs,
        });
        const shop = { id: await insertApp(store, 'shop'), name: 'shop' };
        const idle = { id: await insertApp(store, 'idle'), name: 'idle' };
        const target = {
          kind: 'units' as const,
          upstreams: [{ host: '127.0.0.1', port: 1, unitId: 'shop-v1-web-1-abc' }],
        };
        await routes.set(shop.id, 'shop', target);
        await domains.add(shop, 'www.shop.example', async () => true);
        await domains.add(shop, '*.shop.example', async () => true);
        // An app without a route: its domain goes nowhere until it is in maintenance.
        await domains.add(idle, 'idle.example', async () => true);
        await sync.flush();
        let serving = await router.client.routes();
        assert.deepEqual(serving.routes, [
          { app: 'shop', hosts: ['shop.localhost', '*.shop.example', 'www.shop.example'], target },
        ]);

        await maintenance.on(shop, 'upgrading');
        await maintenance.on(idle);
        await sync.flush();
        serving = await router.client.routes();
        assert.deepEqual(serving.routes, [
          {
            app: 'shop',
            hosts: ['shop.localhost', '*.shop.example', 'www.shop.example'],
            target,
            maintenance: {
              message: 'upgrading',
              retryAfterSeconds: MAINTENANCE_RETRY_AFTER_SECONDS,
            },
          },
          {
            app: 'idle',
            hosts: ['idle.localhost', 'idle.example'],
            target: { kind: 'units', upstreams: [] },
            maintenance: { message: null, retryAfterSeconds: MAINTENANCE_RETRY_AFTER_SECONDS },
          },
        ]);

        await maintenance.off(shop);
        await maintenance.off(idle);
        await domains.remove(shop, '*.shop.example');
        await sync.flush();
        serving = await router.client.routes();
        assert.deepEqual(serving.routes, [
          { app: 'shop', hosts: ['shop.localhost', 'www.shop.example'], target },
        ]);
      } finally {
        await router.close();
      }
    });
  });
}
