// RuntimeDriver's own bookkeeping (init once, no use before init or after destroy), tested
// with a small recording driver: the behaviour of real drivers is the contract suite's job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_RESTART_POLICY,
  RuntimeDriver,
  type Driver,
  type UnitSpec,
  type UnitStatus,
} from '../../src/runtime/index.js';

/** A driver that records its calls and whose init can be made to fail. */
function recordingDriver(failInits = 0): Driver & { calls: string[] } {
  const calls: string[] = [];
  return {
    kind: 'recording',
    calls,
    async init() {
      calls.push('init');
      await sleep(20);
      if (failInits-- > 0) throw new Error('init failed');
    },
    async start(spec) {
      calls.push(`start ${spec.id}`);
      await sleep(30);
      return {
        id: spec.id,
        app: spec.app,
        release: spec.release,
        processType: spec.processType,
        index: spec.index,
        state: 'running',
        address: { host: '127.0.0.1', port: 1 },
        restarts: 0,
        startedAt: new Date().toISOString(),
        lastExit: null,
      } as unknown as UnitStatus;
    },
    async stop(unitId, options) {
      calls.push(`stop ${unitId} ${options.graceMs}`);
      await sleep(30);
    },
    async list() {
      calls.push('list');
      return [];
    },
    async readLogs() {
      return [];
    },
    async followLogs() {},
    async run() {
      throw new Error('not used');
    },
    async removeApp() {
      calls.push('removeApp');
    },
    async destroy() {
      calls.push('destroy');
    },
  };
}

describe('RuntimeDriver', () => {
  it('initialises once for concurrent callers', async () => {
    const inner = recordingDriver();
    const driver = new RuntimeDriver(inner);
    await Promise.all([driver.init(), driver.init(), driver.init()]);
    await driver.init();
    assert.deepEqual(inner.calls, ['init']);
    assert.equal(driver.kind, 'recording');
  });

  it('lets a failed init be retried', async () => {
    const inner = recordingDriver(1);
    const driver = new RuntimeDriver(inner);
    await assert.rejects(driver.init(), /init failed/);
    await driver.init();
    assert.deepEqual(await driver.list(), []);
    assert.deepEqual(inner.calls, ['init', 'init', 'list']);
  });

  it('refuses calls before init and after destroy', async () => {
    const inner = recordingDriver();
    const driver = new RuntimeDriver(inner);
    await assert.rejects(driver.list(), /not initialised/);
    await driver.init();
    await driver.destroy();
    await assert.rejects(driver.list(), /destroyed/);
    await assert.rejects(driver.stop('x', { graceMs: 0 }), /destroyed/);
    await assert.rejects(driver.init(), /destroyed/);
    assert.deepEqual(inner.calls, ['init', 'destroy']);
  });

  const unitSpec = (id: string): UnitSpec => ({
    id,
    app: 'app',
    release: 1,
    processType: 'web',
    index: 1,
    command: { kind: 'shell', line: 'true' },
    artifact: { kind: 'directory', path: '/tmp' },
    env: {},
    restart: DEFAULT_RESTART_POLICY,
  });

  it('refuses a second start of an id while the first runs, and allows it after', async () => {
    const inner = recordingDriver();
    const driver = new RuntimeDriver(inner);
    await driver.init();
    const first = driver.start(unitSpec('app-v1-web-1-aaaaaa'));
    await assert.rejects(driver.start(unitSpec('app-v1-web-1-aaaaaa')), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'UNIT_EXISTS');
      return true;
    });
    await first;
    await driver.start(unitSpec('app-v1-web-1-aaaaaa'));
    assert.deepEqual(inner.calls, [
      'init',
      'start app-v1-web-1-aaaaaa',
      'start app-v1-web-1-aaaaaa',
    ]);
  });

  it('shares one stop among callers, clamps the grace, and destroys after stops end', async () => {
    const inner = recordingDriver();
    const driver = new RuntimeDriver(inner);
    await driver.init();
    const stops = [driver.stop('u1', { graceMs: -5 }), driver.stop('u1', { graceMs: 100 })];
    const destroyed = driver.destroy();
    await Promise.all([...stops, destroyed]);
    assert.deepEqual(inner.calls, ['init', 'stop u1 0', 'destroy']);
  });

  it('destroys once, after an init in flight', async () => {
    const inner = recordingDriver();
    const driver = new RuntimeDriver(inner);
    const initializing = driver.init();
    await Promise.all([driver.destroy(), driver.destroy()]);
    await initializing;
    await driver.destroy();
    assert.deepEqual(inner.calls, ['init', 'destroy']);
    await assert.rejects(driver.list(), /destroyed/);
  });

  it('does not destroy a driver that was never initialised', async () => {
    const inner = recordingDriver();
    await new RuntimeDriver(inner).destroy();
    assert.deepEqual(inner.calls, []);
  });
});
