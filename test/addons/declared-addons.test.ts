// Add-ons berth.json asks for, on both stores: the first deploy makes and attaches them and
// its release already holds their URLs; a later deploy finds them by alias and makes nothing;
// a config var of the alias's name is left alone; a malformed "addons" is refused at upload.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, startTestServer, type TestServer } from '../support/api.js';
import { tarGzBundle } from '../support/bundles.js';
import { backends } from '../support/databases.js';
import { deploy, viaRouter } from '../support/platform.js';
import { nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface AddonJson {
  name: string;
  kind: string;
  createdAt: string;
  attachments: { app: string; variable: string }[];
}

const withAddons = (version: string, addons: unknown) => ({
  ...withVersion(nodeHelloApp, version),
  // The app needs DATABASE_URL: the add-on's URL is what meets it.
  'berth.json': JSON.stringify({
    addons,
    env: { DATABASE_URL: { description: 'the database', required: true } },
  }),
});

for (const backend of backends) {
  describe(`add-ons declared in berth.json (${backend})`, () => {
    let server: TestServer;
    let token: string;
    const addons = async (): Promise<AddonJson[]> =>
      (await server.request('GET', '/addons', { token })).body as AddonJson[];

    before(async () => {
      server = await startTestServer(backend);
      token = server.adminToken;
      for (const name of ['shop', 'blog']) {
        assert.equal(
          (await server.request('POST', '/apps', { token, body: { name } })).status,
          201,
        );
      }
    });
    after(() => server.close());

    it('makes them on the first deploy, into its release, and reuses them after', async () => {
      const declared = ['postgres', { kind: 'redis', as: 'CACHE' }];
      const first = await deploy(server, token, 'shop', withAddons('one', declared));
      assert.equal(first.status, 'succeeded', first.details.error ?? '');
      const made = await addons();
      assert.deepEqual(
        made.map((a) => [a.name, a.kind, a.attachments.map((x) => `${x.app} ${x.variable}`)]),
        [
          ['shop-cache', 'redis', ['shop CACHE_URL']],
          ['shop-postgres', 'postgres', ['shop DATABASE_URL']],
        ],
      );
      const releases = (await server.request('GET', '/apps/shop/releases', { token })).body as {
        version: number;
        configKeys: string[];
      }[];
      assert.equal(releases.length, 1, 'the deploy made one release, not one per attachment');
      assert.deepEqual(releases[0]?.configKeys, ['CACHE_URL', 'DATABASE_URL']);
      const routerUrl = server.server.routerUrl;
      assert.match(
        (await viaRouter(routerUrl, 'shop', '/env/DATABASE_URL')).text,
        /^postgres:\/\//,
      );
      assert.match((await viaRouter(routerUrl, 'shop', '/env/CACHE_URL')).text, /^redis:\/\//);

      const second = await deploy(server, token, 'shop', withAddons('two', declared));
      assert.equal(second.status, 'succeeded', second.details.error ?? '');
      assert.deepEqual(
        (await addons()).map((a) => [a.name, a.createdAt]),
        made.map((a) => [a.name, a.createdAt]),
        'the same add-ons, not made again',
      );
      // The deploy's events say what it found.
      const [newest] = (await server.request('GET', '/apps/shop/deployments', { token })).body as {
        id: string;
      }[];
      const page = (
        await server.request('GET', `/apps/shop/deployments/${newest?.id ?? ''}/events`, {
          token,
        })
      ).body as { events: { kind: string; text?: string }[] };
      const lines = page.events.map((e) => e.text ?? '').join('\n');
      assert.match(lines, /add-on shop-postgres \(postgres\) is attached as DATABASE_URL: kept/);
    });

    it('refuses a config var that would shadow an attached add-on’s URL', async () => {
      const clash = await server.request('PATCH', '/apps/shop/config', {
        token,
        body: { GREETING: 'hi', DATABASE_URL: 'postgres://elsewhere.example/db' },
      });
      assert.equal(clash.status, 409);
      assert.equal(errorCode(clash), 'ADDON_ALIAS_TAKEN');
      assert.match(
        (clash.body as { error: { message: string } }).error.message,
        /DATABASE_URL is the URL of add-on 'shop-postgres', attached to this app/,
      );
      const config = (await server.request('GET', '/apps/shop/config', { token })).body;
      assert.deepEqual(config, {}, 'nothing of the patch was written');
    });

    it('leaves a config var of the same name alone', async () => {
      const set = await server.request('PATCH', '/apps/blog/config', {
        token,
        body: { DATABASE_URL: 'postgres://elsewhere.example/db' },
      });
      assert.equal(set.status, 200);
      const deployed = await deploy(server, token, 'blog', withAddons('one', ['postgres']));
      assert.equal(deployed.status, 'succeeded', deployed.details.error ?? '');
      assert.ok(!(await addons()).some((a) => a.name === 'blog-postgres'), 'none was made');
      assert.equal(
        (await viaRouter(server.server.routerUrl, 'blog', '/env/DATABASE_URL')).text,
        'postgres://elsewhere.example/db',
      );
    });

    it('refuses a malformed addons list at upload, and queues nothing', async () => {
      const before = (await server.request('GET', '/apps/blog/deployments', { token }))
        .body as unknown[];
      for (const addons of [['mysql'], [{ kind: 'redis', as: 'cache' }], 'redis']) {
        const bundle = await tarGzBundle(withAddons('x', addons));
        const reply = await server.request('POST', '/deployments/blog', {
          token,
          raw: { data: bundle, contentType: 'application/gzip' },
        });
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(errorCode(reply), 'BUNDLE_INVALID');
      }
      const after = (await server.request('GET', '/apps/blog/deployments', { token }))
        .body as unknown[];
      assert.equal(after.length, before.length);
    });
  });
}
