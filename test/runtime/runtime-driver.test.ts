// RuntimeDriver's own bookkeeping (init once, no use before init or after destroy), tested
// with a small recording driver: the behaviour of real drivers is the contract suite's job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeDriver, type Driver } from '../../src/runtime/index.js';

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
    async start() {
      throw new Error('not used');
    },
    async stop() {
      calls.push('stop');
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
