// Both drivers with the host's port claims (the store's unit_ports through the data-plane
// service, on a real SQLite store): a unit's port is claimed while the unit exists, a port that
// another runtime of the host claimed is never given, and the units a driver adopts that have
// no claim (started before claims were kept) are claimed at its init.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DataPlaneService, dataPlaneState } from '../../src/domain/data-plane/index.js';
import {
  ContainerDriver,
  DEFAULT_RESTART_POLICY,
  ProcessDriver,
  RuntimeDriver,
  type Driver,
  type PortClaims,
  type PortRange,
  type UnitSpec,
} from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { connectTestEngine } from '../support/engine.js';
import { openTestStore } from '../support/stores.js';
import type { ContractFixture } from './contract.js';
import { containerFixture } from './support/container-fixture.js';
import { processFixture } from './support/fixture.js';
import { waitUntilListening } from './support/wait.js';

const HOST = { id: 'port-claims-test-host', name: 'test' };

/** A fixture, and drivers on its one root with or without claims. */
interface ClaimsFixture {
  readonly fixture: ContractFixture & { readonly root: string };
  driver(claims: PortClaims | undefined): Driver;
}

/** The store's claims, as `owner unitId port`, by port. */
async function claimRows(store: Store): Promise<string[]> {
  const rows = await store.db.selectFrom('unit_ports').selectAll().orderBy('port').execute();
  return rows.map((row) => `${row.owner} ${row.unit_id} ${Number(row.port)}`);
}

function portClaimsSuite(name: string, range: PortRange, setup: () => Promise<ClaimsFixture>) {
  describe(`the ${name} runtime with the host's port claims`, () => {
    let counter = 0;
    const spec = (fixture: ContractFixture): UnitSpec => {
      const app = `claims-${process.pid}-${++counter}`;
      return {
        id: `${app}-web-1`,
        app,
        release: 1,
        processType: 'web',
        index: 1,
        command: fixture.command('web.mjs'),
        artifact: fixture.artifact,
        env: {},
        restart: DEFAULT_RESTART_POLICY,
      };
    };
    /** An initialised driver; unless the test destroys it, its units are stopped at the end. */
    const open = async (made: ClaimsFixture, claims: PortClaims | undefined) => {
      const driver = new RuntimeDriver(made.driver(claims));
      await driver.init();
      after(async () => {
        if (destroyed.has(driver)) return;
        try {
          for (const unit of await driver.list()) await driver.stop(unit.id, { graceMs: 0 });
        } finally {
          await driver.destroy();
        }
      });
      return driver;
    };
    const destroyed = new Set<RuntimeDriver>();

    it('claims a unit’s port while it runs, never one claimed elsewhere, and lets go', async () => {
      const { store } = await openTestStore('sqlite');
      const made = await setup();
      after(() => made.fixture.cleanup());
      const service = new DataPlaneService({ state: dataPlaneState(store) });
      const root = made.fixture.root;
      const driver = await open(made, service.unitPorts(HOST, root));
      // Another runtime of the host holds the first port of the range.
      await service.unitPorts(HOST, '/another/runtime').claim(range.from, 'theirs-web-1');
      const unit = await driver.start(spec(made.fixture));
      await waitUntilListening(unit);
      assert.notEqual(unit.address.port, range.from, 'a port claimed elsewhere is not given');
      assert.deepEqual(await claimRows(store), [
        `/another/runtime theirs-web-1 ${range.from}`,
        `${root} ${unit.id} ${unit.address.port}`,
      ]);
      await driver.stop(unit.id, { graceMs: 1000 });
      assert.deepEqual(await claimRows(store), [`/another/runtime theirs-web-1 ${range.from}`]);
    });

    it('claims, at init, the ports of the units it adopts that have none', async () => {
      const { store } = await openTestStore('sqlite');
      const made = await setup();
      after(() => made.fixture.cleanup());
      // Started by a Berth that kept no claims, then left running.
      const before = await open(made, undefined);
      const unit = await before.start(spec(made.fixture));
      await before.destroy();
      destroyed.add(before);
      assert.deepEqual(await claimRows(store), []);
      const service = new DataPlaneService({ state: dataPlaneState(store) });
      const adopting = await open(made, service.unitPorts(HOST, made.fixture.root));
      assert.deepEqual(await claimRows(store), [
        `${made.fixture.root} ${unit.id} ${unit.address.port}`,
      ]);
      await adopting.stop(unit.id, { graceMs: 0 });
      assert.deepEqual(await claimRows(store), []);
    });
  });
}

const processRange = { from: 49_100, to: 49_199 };
portClaimsSuite('process', processRange, async () => {
  const fixture = await processFixture();
  return {
    fixture,
    driver: (claims) =>
      new ProcessDriver({
        root: fixture.root,
        portRange: processRange,
        ...(claims ? { portClaims: claims } : {}),
      }),
  };
});

const containerRange = { from: 49_300, to: 49_399 };
portClaimsSuite('container', containerRange, async () => {
  const fixture = await containerFixture();
  const { engine } = await connectTestEngine();
  return {
    fixture,
    driver: (claims) =>
      new ContainerDriver({
        engine,
        root: fixture.root,
        portRange: containerRange,
        ...(claims ? { portClaims: claims } : {}),
      }),
  };
});
