// The data plane's host record and its unit port claims, on both stores: one host per store,
// and ports that two controllers of that host (two stores' connections, two allocators) can
// never hand out twice, however they race.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import {
  DataPlaneElsewhereError,
  DataPlaneService,
  dataPlaneState,
  STALE_CLAIM_MS,
} from '../../../src/domain/data-plane/index.js';
import { PortAllocator } from '../../../src/runtime/index.js';
import { backends } from '../../support/databases.js';
import { openTestStore, reopenStore } from '../../support/stores.js';

const HOST = { id: 'host-a-machine-id', name: 'host-a' };
const OTHER = { id: 'host-b-machine-id', name: 'host-b' };

/** A port range of this test file's own, away from other files' ranges. */
function freshRange(size: number) {
  const from = 41_000 + Math.floor(Math.random() * 80) * 100;
  return { from, to: from + size - 1 };
}

for (const backend of backends) {
  describe(`the data plane's host on ${backend}`, () => {
    it('is recorded by the first controller, and refuses a controller on another host', async () => {
      const { store } = await openTestStore(backend);
      const service = new DataPlaneService({ state: dataPlaneState(store) });
      assert.equal(await service.host(), undefined);
      const recorded = await service.attach(HOST);
      assert.equal(recorded.hostId, HOST.id);
      assert.equal(recorded.hostName, HOST.name);
      assert.deepEqual(await service.attach(HOST), recorded, 'the same host attaches again');
      await assert.rejects(service.attach(OTHER), (error: unknown) => {
        assert.ok(error instanceof DataPlaneElsewhereError);
        assert.equal(error.code, 'DATA_PLANE_ELSEWHERE');
        assert.match(error.message, /units live on host host-a \(id host-a-machine-id\)/);
        assert.match(error.message, /not on host-b/);
        assert.match(error.message, /Kubernetes runtime \(--runtime kubernetes\)/);
        assert.match(error.message, /BERTH_HOST_ID=host-a-machine-id/);
        return true;
      });
      assert.deepEqual(await service.host(), recorded, 'a refusal changes nothing');
    });

    it('goes to one host when two hosts attach at once', async () => {
      const { store, location } = await openTestStore(backend);
      const second = await reopenStore(location);
      after(() => second.close());
      const results = await Promise.allSettled([
        new DataPlaneService({ state: dataPlaneState(store) }).attach(HOST),
        new DataPlaneService({ state: dataPlaneState(second) }).attach(OTHER),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.find((r) => r.status === 'rejected');
      assert.ok(refused?.reason instanceof DataPlaneElsewhereError);
    });
  });

  describe(`unit port claims on ${backend}`, () => {
    it('two allocators of one host, racing, never hand out one port twice', async () => {
      const { store, location } = await openTestStore(backend);
      const second = await reopenStore(location);
      after(() => second.close());
      // Two controllers, each with its own store connection and runtime root, one range.
      const range = freshRange(64);
      const allocators = [store, second].map(
        (s, i) =>
          new PortAllocator(range, {
            host: '127.0.0.1',
            claims: new DataPlaneService({ state: dataPlaneState(s) }).unitPorts(
              HOST,
              `/data-${i}/runtime`,
            ),
          }),
      );
      const ports = await Promise.all(
        Array.from({ length: 48 }, (_, i) => allocators[i % 2]!.allocate(`unit-${i}`, new Map())),
      );
      assert.equal(new Set(ports).size, ports.length, `ports given twice: ${ports.join(' ')}`);
      const rows = await store.db.selectFrom('unit_ports').selectAll().execute();
      assert.equal(rows.length, 48);
      assert.deepEqual(
        rows.map((r) => Number(r.port)).sort((a, b) => a - b),
        [...ports].sort((a, b) => a - b),
      );
    });

    it('skips a port something outside Berth holds, and lets go of its claim', async () => {
      const { store } = await openTestStore(backend);
      const range = freshRange(16);
      // Held on the loopback only: a unit binding the wildcard would still collide with it.
      const squatter = net.createServer();
      await new Promise<void>((resolve) => squatter.listen(range.from, '127.0.0.1', resolve));
      after(() => squatter.close());
      const claims = new DataPlaneService({ state: dataPlaneState(store) }).unitPorts(HOST, '/r');
      const allocator = new PortAllocator(range, { host: '127.0.0.1', claims });
      const port = await allocator.allocate('web-1', new Map());
      assert.equal(port, range.from + 1);
      const rows = await store.db.selectFrom('unit_ports').selectAll().execute();
      assert.deepEqual(
        rows.map((r) => [Number(r.port), r.unit_id]),
        [[range.from + 1, 'web-1']],
      );
    });

    it('frees a stopped unit’s port for the host, and keeps other owners’ claims', async () => {
      const { store } = await openTestStore(backend);
      const service = new DataPlaneService({ state: dataPlaneState(store) });
      const mine = service.unitPorts(HOST, '/mine');
      const theirs = service.unitPorts(HOST, '/theirs');
      assert.equal(await mine.claim(30_001, 'web-1'), true);
      assert.equal(await theirs.claim(30_001, 'web-9'), false, 'one port, one claim per host');
      assert.equal(await theirs.claim(30_002, 'web-1'), true, 'unit ids are per owner');
      assert.equal(
        await service.unitPorts(OTHER, '/mine').claim(30_001, 'web-1'),
        true,
        'another host has ports of its own',
      );
      await mine.release('web-1');
      assert.deepEqual([...(await mine.claimed({ from: 30_000, to: 30_010 }))], [30_002]);
      assert.equal(await theirs.claim(30_001, 'web-9'), true, 'the freed port is free');
      await theirs.release('web-9', 30_005);
      assert.equal((await theirs.claimed({ from: 30_001, to: 30_001 })).size, 1, 'not its port');
    });

    it('takes back stale claims of units gone, and adopts what listed units hold', async () => {
      const { store } = await openTestStore(backend);
      let now = Date.parse('2026-01-01T00:00:00Z');
      const service = new DataPlaneService({
        state: dataPlaneState(store),
        clock: () => new Date(now),
      });
      const claims = service.unitPorts(HOST, '/r');
      await claims.claim(30_001, 'gone-1'); // its unit was removed while the store was away
      await claims.claim(30_002, 'moved-1'); // its unit now holds another port
      await claims.claim(30_003, 'live-1');
      await service.unitPorts(HOST, '/other').claim(30_005, 'theirs-1'); // not ours to judge
      now += STALE_CLAIM_MS + 1000;
      await claims.claim(30_004, 'starting-1'); // a start under way: not listed yet
      const units = new Map([
        ['moved-1', 30_012],
        ['live-1', 30_003],
        ['adopted-1', 30_011], // started before claims were kept
      ]);
      await claims.reclaim(units);
      await claims.adopt(units);
      const rows = await store.db
        .selectFrom('unit_ports')
        .select(['port', 'owner', 'unit_id'])
        .orderBy('port')
        .execute();
      assert.deepEqual(
        rows.map((r) => [Number(r.port), r.owner, r.unit_id]),
        [
          [30_003, '/r', 'live-1'],
          [30_004, '/r', 'starting-1'],
          [30_005, '/other', 'theirs-1'],
          [30_011, '/r', 'adopted-1'],
          [30_012, '/r', 'moved-1'],
        ],
      );
    });
  });
}
