// Custom domains and maintenance mode over real stores (SQLite and PostgreSQL): host rules,
// one app per host, cleanup with the app, and migration 12 on a store made before it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DomainsService,
  domainsState,
  parseCustomHost,
} from '../../../src/domain/domains/index.js';
import { MaintenanceService, maintenanceState } from '../../../src/domain/maintenance/index.js';
import { ErrorCodes, type BerthError } from '../../../src/errors/index.js';
import { migrations } from '../../../src/store/index.js';
import { backends, createTestDatabase } from '../../support/databases.js';
import { insertApp, insertTestUser, openTestStore, reopenStore } from '../../support/stores.js';

function code(error: unknown): string {
  return (error as BerthError).code;
}

describe('custom host rules', () => {
  const ok = (input: string) => parseCustomHost(input, 'berth.test').host;
  const refused = (input: string, why: RegExp) =>
    assert.throws(
      () => parseCustomHost(input, 'berth.test'),
      (error: unknown) => code(error) === ErrorCodes.DOMAIN_INVALID && why.test(String(error)),
      input,
    );

  it('lower-cases, drops the root dot and turns IDNs into punycode', () => {
    assert.equal(ok('WWW.Example.COM.'), 'www.example.com');
    assert.equal(ok('  shop.example.com '), 'shop.example.com');
    assert.equal(ok('Bücher.example'), 'xn--bcher-kva.example');
    assert.equal(ok('*.Example.com'), '*.example.com');
    assert.equal(parseCustomHost('*.example.com', 'berth.test').wildcard, true);
    assert.equal(ok('a.b.berth.test'), 'a.b.berth.test');
  });

  it('refuses each malformed form', () => {
    refused('', /empty/);
    refused('example', /has a dot/);
    refused('exa_mple.com', /label 'exa_mple'/);
    refused('-a.example.com', /label '-a'/);
    refused('a-.example.com', /label 'a-'/);
    refused('a..example.com', /./);
    refused('example.com:8080', /no port/);
    refused('http://example.com', /no port/);
    refused('a b.example.com', /no port, path, user or spaces/);
    refused('foo.123', /./);
  });

  it('refuses IP literals, however written', () => {
    refused('192.0.2.1', /IP address/);
    refused('::1', /IP address/);
    refused('[2001:db8::1]', /IP address/);
    refused('0x7f.1', /IP address/);
    refused('127.1', /IP address/);
  });

  it('refuses names and labels past their lengths', () => {
    const label = 'a'.repeat(63);
    assert.equal(ok(`${label}.example.com`), `${label}.example.com`);
    refused(`${'a'.repeat(64)}.example.com`, /at most 63/);
    const long = `${Array.from({ length: 4 }, () => label).join('.')}.com`;
    assert.ok(long.length > 253);
    refused(long, /at most 253/);
    const longest = `${Array.from({ length: 3 }, () => label).join('.')}.${'b'.repeat(57)}.com`;
    assert.equal(longest.length, 253);
    assert.equal(ok(longest), longest);
  });

  it("refuses a wildcard anywhere but the first label, and Berth's own names", () => {
    refused('a.*.example.com', /wildcard/);
    refused('*example.com', /wildcard/);
    refused('*.*.example.com', /wildcard/);
    refused('www.*', /wildcard/);
    refused('*.com', /has a dot/);
    refused('web1.berth.test', /Berth's own/);
    refused('*.berth.test', /Berth's own/);
    refused('berth.test', /Berth's own/);
  });
});

for (const backend of backends) {
  describe(`domains and maintenance on ${backend}`, () => {
    it('gives a host to one app, names the holder only to who may see it, and goes with the app', async () => {
      const { store } = await openTestStore(backend);
      const domains = new DomainsService({
        state: domainsState(store),
        serverDomain: 'berth.test',
      });
      const shop = { id: await insertApp(store, 'shop'), name: 'shop' };
      const blog = { id: await insertApp(store, 'blog'), name: 'blog' };
      const everyone = async () => true;
      const nobody = async () => false;

      const added = await domains.add(shop, 'WWW.Shop.example.', everyone);
      assert.equal(added.host, 'www.shop.example');
      await domains.add(shop, '*.shop.example', everyone);
      // Adding a host the app holds is no change.
      assert.equal(
        (await domains.add(shop, 'www.shop.example', everyone)).host,
        'www.shop.example',
      );

      await assert.rejects(domains.add(blog, 'www.shop.example', everyone), (error: unknown) => {
        assert.equal(code(error), ErrorCodes.DOMAIN_TAKEN);
        assert.match(String(error), /app 'shop'/);
        return true;
      });
      await assert.rejects(domains.add(blog, 'WWW.shop.example', nobody), (error: unknown) => {
        assert.equal(code(error), ErrorCodes.DOMAIN_TAKEN);
        assert.match(String(error), /another app/);
        assert.doesNotMatch(String(error), /shop'|blog/);
        return true;
      });
      // Racing adds of one host: exactly one wins.
      const race = await Promise.allSettled([
        domains.add(blog, 'race.example.com', everyone),
        domains.add(shop, 'race.example.com', everyone),
      ]);
      assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);

      assert.deepEqual(
        (await domains.ofApp(shop.id)).map((d) => [d.host, d.wildcard]),
        [
          ['*.shop.example', true],
          ['www.shop.example', false],
          ...(race[1].status === 'fulfilled' ? [['race.example.com', false]] : []),
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      await assert.rejects(domains.remove(blog, 'www.shop.example'), (error: unknown) => {
        assert.equal(code(error), ErrorCodes.DOMAIN_NOT_FOUND);
        return true;
      });
      await domains.remove(shop, 'WWW.shop.example.');
      assert.deepEqual(
        (await domains.list()).filter((d) => d.appId === shop.id).map((d) => d.host),
        ['*.shop.example', ...(race[1].status === 'fulfilled' ? ['race.example.com'] : [])],
      );

      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', shop.id).execute());
      assert.deepEqual(await domains.ofApp(shop.id), []);
      // The host is free again once its app is gone.
      assert.equal((await domains.add(blog, '*.shop.example', everyone)).appName, 'blog');
    });

    it('keeps maintenance in the store, with its message, until off or the app goes', async () => {
      const { store } = await openTestStore(backend);
      const maintenance = new MaintenanceService({ state: maintenanceState(store) });
      const app = { id: await insertApp(store, 'paused'), name: 'paused' };
      assert.equal(await maintenance.get(app.id), undefined);
      const on = await maintenance.on(app, '  Back at 5  ');
      assert.equal(on.message, 'Back at 5');
      assert.equal(on.appName, 'paused');
      const again = await maintenance.on(app, null);
      assert.equal(again.message, null);
      assert.equal(again.startedAt, on.startedAt, 'a second on keeps the first start');
      await assert.rejects(maintenance.on(app, 'x'.repeat(1001)), (error: unknown) => {
        assert.equal(code(error), ErrorCodes.INVALID_INPUT);
        return true;
      });
      assert.deepEqual(
        (await maintenance.list()).map((m) => m.appName),
        ['paused'],
      );
      assert.equal(await maintenance.off(app), true);
      assert.equal(await maintenance.off(app), false);
      await maintenance.on(app);
      await store.transact((tx) => tx.deleteFrom('apps').where('id', '=', app.id).execute());
      assert.deepEqual(await maintenance.list(), []);
    });

    it('migration 12 adds its tables to a store made before it, keeping its apps', async () => {
      const location = await createTestDatabase(backend);
      try {
        const before = migrations.slice(
          0,
          migrations.findIndex((m) => m.name === 'custom domains and maintenance mode'),
        );
        assert.equal(before.length, 11);
        const old = await reopenStore(location, { migrations: before, watchedTables: [] });
        await insertTestUser(old);
        const appId = await insertApp(old, 'legacy');
        await old.close();

        const current = await reopenStore(location);
        try {
          const domains = new DomainsService({
            state: domainsState(current),
            serverDomain: 'localhost',
          });
          await domains.add({ id: appId, name: 'legacy' }, 'legacy.example.com', async () => true);
          assert.deepEqual(
            (await domains.list()).map((d) => [d.host, d.appName]),
            [['legacy.example.com', 'legacy']],
          );
          const namespaces = await current.db
            .selectFrom('change_log_namespace')
            .select('namespace')
            .execute();
          const names = namespaces.map((n) => n.namespace);
          assert.ok(names.includes('app_domains') && names.includes('app_maintenance'));
        } finally {
          await current.close();
        }
      } finally {
        await location.drop();
      }
    });
  });
}
