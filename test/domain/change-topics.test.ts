// The change topics domain services hand out, on both backends: a write through a service shows
// up in its topics, in the app's topic and not in another app's; and no worker or API file
// names a change-stream namespace of its own (they compose the services' topics instead).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  inTopic,
  Subscription,
  type ChangeTopic,
  type WatcherHub,
} from '../../src/changes/index.js';
import { AppsService, appsState } from '../../src/domain/apps/index.js';
import { ConfigService } from '../../src/domain/config/index.js';
import { DeploymentsService, deploymentsState } from '../../src/domain/deployments/index.js';
import { DomainsService, domainsState } from '../../src/domain/domains/index.js';
import { FormationService, formationState } from '../../src/domain/formation/index.js';
import { MaintenanceService, maintenanceState } from '../../src/domain/maintenance/index.js';
import { ReleasesService, shellCommand } from '../../src/domain/releases/index.js';
import { RolloutsService, rolloutsState } from '../../src/domain/rollouts/index.js';
import { RoutesService, routesState } from '../../src/domain/routes/index.js';
import { masterKeyFromBytes, SecretBox } from '../../src/secrets/index.js';
import { watchedTables, type Store } from '../../src/store/index.js';
import { staysQuiet, streamFor, valueWithin } from '../support/changes.js';
import { backends } from '../support/databases.js';
import { openTestStore, TEST_USER_ID } from '../support/stores.js';
import { compiledDefaults } from '../support/compiled-defaults.js';

const secrets = new SecretBox(masterKeyFromBytes(randomBytes(32)));

function servicesOf(store: Store) {
  const apps = new AppsService({ state: appsState(store) });
  const config = new ConfigService({ store, secrets });
  const releases = new ReleasesService({ store, secrets, config });
  const formation = new FormationService({
    state: formationState(store),
    releases: {
      async latestProcesses(appId) {
        const latest = await releases.latest(appId);
        return latest && { processes: latest.processes, formation: latest.formation };
      },
    },
  });
  return {
    apps,
    config,
    releases,
    formation,
    rollouts: new RolloutsService({ state: rolloutsState(store) }),
    routes: new RoutesService({ state: routesState(store) }),
    domains: new DomainsService({ state: domainsState(store), serverDomain: 'localhost' }),
    maintenance: new MaintenanceService({ state: maintenanceState(store) }),
    deployments: new DeploymentsService({
      state: deploymentsState(store),
      maxEventBytes: compiledDefaults.deployLogLimitBytes,
    }),
  };
}

/** A subscription to one topic, to read what reached it. */
function follow(hub: WatcherHub, topic: ChangeTopic) {
  return { topic, subscription: new Subscription(hub, { filters: [topic] }) };
}

for (const backend of backends) {
  describe(`change topics on ${backend}`, () => {
    it("shows each service's writes in its topics, the app's own and not another app's", async () => {
      const { store } = await openTestStore(backend);
      const { stream, hub } = streamFor(store);
      await stream.open();
      const s = servicesOf(store);
      const shop = await s.apps.create(TEST_USER_ID, 'shop');
      const blog = await s.apps.create(TEST_USER_ID, 'blog');
      await stream.drain();

      // Written below: every topic of the app but its own row's, and each area's whole topic.
      const written = {
        'shop config': follow(hub, s.config.changesOf(shop.id)),
        'shop releases': follow(hub, s.releases.changesOf(shop.id)),
        'shop formation': follow(hub, s.formation.changesOf(shop.id)),
        'shop rollouts': follow(hub, s.rollouts.changesOf(shop.id)),
        'shop tasks': follow(hub, s.deployments.taskChangesOf(shop.id)),
        'shop domains': follow(hub, s.domains.changesOf(shop.id)),
        'shop maintenance': follow(hub, s.maintenance.changesOf(shop.id)),
        domains: follow(hub, s.domains.changes()),
        maintenance: follow(hub, s.maintenance.changes()),
        releases: follow(hub, s.releases.changes()),
        formation: follow(hub, s.formation.changes()),
        rollouts: follow(hub, s.rollouts.changes()),
        routes: follow(hub, s.routes.changes()),
        tasks: follow(hub, s.deployments.taskChanges()),
      };
      const shopApp = follow(hub, s.apps.changesOf(shop.id));
      const allApps = follow(hub, s.apps.changes());
      const ofBlog = [
        follow(hub, s.apps.changesOf(blog.id)),
        follow(hub, s.config.changesOf(blog.id)),
        follow(hub, s.releases.changesOf(blog.id)),
        follow(hub, s.formation.changesOf(blog.id)),
        follow(hub, s.rollouts.changesOf(blog.id)),
        follow(hub, s.deployments.taskChangesOf(blog.id)),
        follow(hub, s.domains.changesOf(blog.id)),
        follow(hub, s.maintenance.changesOf(blog.id)),
      ];

      await s.config.patch(shop.id, { GREETING: 'hello' });
      await s.releases.create({
        appId: shop.id,
        artifactId: null,
        stack: 'node',
        processes: { web: shellCommand('node server.js') },
        formation: { web: 1 },
        description: 'Deploy',
      });
      await s.formation.patch(shop.id, { web: 2 });
      await s.rollouts.succeeded(shop.id, 1);
      await s.routes.set(shop.id, 'shop', { kind: 'static', root: '/srv/shop' });
      await s.domains.add(shop, 'www.shop.example', async () => true);
      await s.maintenance.on(shop, 'back soon');
      const task = await s.deployments.enqueue({
        appId: shop.id,
        appName: 'shop',
        kind: 'deploy',
        source: { kind: 'bundle', ref: null, sha: null },
        options: { autoconfigure: false },
      });
      const events = follow(hub, s.deployments.eventsOf(task.id));
      // Cancelling a queued task writes its `finished` event.
      await s.deployments.cancel(shop.id, task.id);
      await stream.drain();

      for (const [what, { topic, subscription }] of Object.entries({ ...written, events })) {
        const batch = await valueWithin(subscription, 2000, `a change in the ${what} topic`);
        assert.ok(
          batch.every((event) => inTopic(topic, event)),
          `${what}: only changes of its own`,
        );
      }
      for (const { subscription } of [shopApp, allApps, ...ofBlog]) {
        assert.ok(await staysQuiet(subscription, 50), 'no app row and no other app changed');
      }

      // Destroying the app is a change of the app, and of the route table: the route goes with
      // it (the store cascades), which is why router sync follows the route table alone.
      await s.apps.destroy(shop);
      await stream.drain();
      for (const { topic, subscription } of [
        shopApp,
        allApps,
        written.routes,
        written.domains,
        written.maintenance,
      ]) {
        const batch = await valueWithin(subscription, 2000, `the destruction (${topic.namespace})`);
        assert.ok(batch.some((event) => event.changed === shop.id));
      }
      for (const { subscription } of ofBlog) {
        assert.ok(await staysQuiet(subscription, 50), "another app's topics stay quiet");
      }
    });
  });
}

/** Every .ts file under `dir`. */
async function sourcesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('who names change-stream namespaces', () => {
  it('no worker and no API file does: they follow the topics of domain services', async () => {
    const root = path.resolve(import.meta.dirname, '../../src');
    const files = [
      ...(await sourcesUnder(path.join(root, 'workers'))),
      ...(await sourcesUnder(path.join(root, 'api'))),
    ];
    assert.ok(files.length > 20, `${files.length} files scanned`);
    const names = watchedTables.map((t) => t.namespace).join('|');
    // A namespace given to the change stream by hand: `namespace: 'apps'`, `namespaces: [...]`,
    // a filter object, a list of namespaces, or a map keyed by namespace (`apps: 'app'`). An
    // OpenAPI tag (`tags: ['apps']`) is not one.
    const byHand = new RegExp(
      `\\bnamespaces?\\b|SubscriptionFilter|\\b(${names})\\s*:\\s*'|(^|[^\\w\\]])\\[\\s*'(${names})'\\s*[,\\]]`,
    );
    const offenders: string[] = [];
    for (const file of files) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (byHand.test(line) && !/^(\/\/|\*|tags:)/.test(line.trim()))
          offenders.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offenders, []);
  });
});
