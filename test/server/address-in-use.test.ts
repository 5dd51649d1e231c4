import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createTestDatabase } from '../support/databases.js';
import { runBerth, startServerProcess } from '../support/server-process.js';

/** A plain TCP server on a free loopback port, as any program might hold one. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** `berth server` on free ports except the ones given, expected to fail at once. */
function startWith(dataDir: string, addresses: Record<string, string>) {
  const flags = {
    '--listen': '127.0.0.1:0',
    '--router-listen': '127.0.0.1:0',
    '--ssh-listen': '127.0.0.1:0',
    ...addresses,
  };
  return runBerth(['server', '--data-dir', dataDir, ...Object.entries(flags).flat()]);
}

describe('berth server on an address already in use', () => {
  for (const flag of ['--router-listen', '--listen', '--ssh-listen']) {
    it(`names ${flag} and the process holding it, in one line, and exits 1`, async () => {
      const held = await holdPort();
      const location = await createTestDatabase('sqlite');
      try {
        const result = await startWith(location.dataDir, { [flag]: `127.0.0.1:${held.port}` });
        assert.equal(result.code, 1, result.stderr);
        const lines = result.stderr.trim().split('\n');
        assert.equal(lines.length, 1, result.stderr);
        assert.match(
          lines[0] ?? '',
          new RegExp(
            `^berth: 127\\.0\\.0\\.1:${held.port} is already in use by pid ${process.pid} ` +
              `.*; choose another address with ${flag} HOST:PORT$`,
          ),
        );
      } finally {
        await held.close();
        await location.drop();
      }
    });
  }

  it("names another Berth's router by its data dir", async () => {
    const first = await createTestDatabase('sqlite');
    const second = await createTestDatabase('sqlite');
    try {
      const running = await startServerProcess(['--data-dir', first.dataDir]);
      const routerAddress = new URL(running.routerUrl).host;
      const result = await startWith(second.dataDir, { '--router-listen': routerAddress });
      assert.equal(result.code, 1, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      const dir = path.resolve(first.dataDir);
      const { pid } = JSON.parse(
        await readFile(path.join(dir, 'router', 'router.pid'), 'utf8'),
      ) as { pid: number };
      assert.equal(
        lines[0],
        `berth: ${routerAddress} is already in use by the router of the Berth in ${dir} ` +
          `(pid ${pid}; 'berth down --data-dir ${dir}' stops it); ` +
          'choose another address with --router-listen HOST:PORT',
      );
      assert.equal(await running.stop(), 0);
    } finally {
      await second.drop();
      await first.drop();
    }
  });
});
