// `npm run bench -- api` beside a running Berth: it must not need Berth's default ports, and it
// must leave no process of its data dir behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Holds 127.0.0.1:PORT if it is free; a port something else holds is just as unavailable. */
async function occupy(port: number): Promise<net.Server | undefined> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The pids whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

describe('npm run bench -- api', () => {
  it("runs beside Berth's default ports and leaves no process of its data dir", async () => {
    // os.tmpdir() of the bench: its data dir is created in here, found again by this path.
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-test-'));
    // A root controller runs apps as users of their own, who must pass through to the data dir.
    await chmod(tmp, 0o711);
    const held = await Promise.all([7100, 7180, 7122].map(occupy));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/index.ts', 'api'], {
        cwd: ROOT,
        env: { ...process.env, TMPDIR: tmp, BERTH_BENCH_QUICK: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, output);
      assert.match(output, /GET \/apps\/\{app\}/);
      assert.deepEqual(await processesMentioning(tmp), []);
    } finally {
      await Promise.all(
        held.map((s) => new Promise((resolve) => (s ? s.close(resolve) : resolve(undefined)))),
      );
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
