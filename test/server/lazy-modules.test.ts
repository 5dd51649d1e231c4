// What a controller loads depends on what it was asked to run: dockerode only on the
// container runtime, pg only with a PostgreSQL URL, ssh2 only with the SSH listener on (or a
// key to parse). Read from the server's own require.cache when it exits.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { berthNodeFlags, startBerthServer } from '../support/berth-server.js';

const PRELOAD = new URL('../support/loaded-packages.js', import.meta.url).pathname;
const HEAVY = ['dockerode', 'pg', 'ssh2'];

/** The heavy packages a process-runtime server on SQLite loaded, started with `args`. */
async function heavyPackagesLoaded(args: readonly string[]): Promise<string[]> {
  // The data dir is a folder of /tmp's own: apps' users must pass through its parents.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-lazy-data-'));
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-lazy-'));
  const record = path.join(dir, 'loaded.txt');
  const server = await startBerthServer({
    dataDir,
    nodeFlags: [...berthNodeFlags(), '--import', PRELOAD],
    args,
    env: { BERTH_TEST_LOADED_PACKAGES: record },
  });
  try {
    // A request through the API, so that what serving loads is loaded too.
    const health = await fetch(`${server.url}/api/v1/health`);
    assert.equal(health.ok, true);
  } finally {
    await server.down();
  }
  const loaded = readFileSync(record, 'utf8').split('\n').filter(Boolean);
  rmSync(dir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  assert.ok(loaded.includes('fastify'), 'the record lists what was loaded');
  return HEAVY.filter((name) => loaded.includes(name));
}

describe('a controller loads only what its options need', () => {
  it('process runtime, SQLite, SSH off: none of dockerode, pg, ssh2', async () => {
    assert.deepEqual(await heavyPackagesLoaded(['--ssh-listen', 'off']), []);
  });

  it('with the SSH listener on, ssh2 and nothing else of them', async () => {
    assert.deepEqual(await heavyPackagesLoaded([]), ['ssh2']);
  });
});
