import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/logging/index.js';
import {
  CONTROL_SOCKET,
  ensureRouterProcess,
  PID_FILE,
  readRouterPidFile,
  RouterClient,
  RouterStartError,
  RouterWatch,
  stopRouterProcess,
} from '../../src/router/index.js';
import { request, startUpstream, unitsRoute } from './support/fixtures.js';
import { routerCommand } from './support/router-command.js';
import { compiledDefaults } from '../support/compiled-defaults.js';

const run = promisify(execFile);
const PARENT = fileURLToPath(new URL('./support/ensure-router-then-exit.ts', import.meta.url));

/**
 * Whether a process runs. A zombie does not: a router the watch started is this process's
 * child, and stays a zombie until Node reaps it, a moment after it exited (seen on a busy
 * machine, where the check ran in between).
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('builtin router as a process of its own', () => {
  const dataDirs: string[] = [];
  after(async () => {
    for (const dataDir of dataDirs) {
      await stopRouterProcess(path.join(dataDir, 'router'), { graceMs: 2_000 });
      await rm(dataDir, { recursive: true, force: true });
    }
  });
  async function dataDir(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-router-process-'));
    dataDirs.push(dir);
    return dir;
  }

  it('outlives the process that started it, is adopted, restarted by the watch, and stopped', async () => {
    const data = await dataDir();
    const dir = path.join(data, 'router');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', PARENT, data]);
    const started = JSON.parse(stdout) as { adopted: boolean; pid: number; listen: string };
    assert.equal(started.adopted, false);
    assert.ok(alive(started.pid), 'the router runs on after its parent exited');
    assert.equal((await readRouterPidFile(dir))?.pid, started.pid);

    const upstream = await startUpstream('app');
    try {
      const client = new RouterClient({
        controlSocket: path.join(dir, CONTROL_SOCKET),
        timeoutMs: compiledDefaults.routerControlTimeoutMs,
      });
      await client.putRoutes({
        generation: 1,
        routes: [unitsRoute('app', ['app.localhost'], [upstream])],
      });
      const port = Number(started.listen.split(':')[1]);
      assert.equal((await request(port, 'app.localhost')).body, 'I am app GET /');

      const options = {
        dir,
        listen: { host: '127.0.0.1', port: 0 },
        logger: silentLogger(),
        command: routerCommand(data),
        controlTimeoutMs: compiledDefaults.routerControlTimeoutMs,
      };
      const adopted = await ensureRouterProcess(options);
      assert.deepEqual(adopted, { adopted: true, pid: started.pid, listen: started.listen });

      // The router dies; the watch starts a new one, which comes back with the saved table.
      const watch = new RouterWatch({ ...options, intervalMs: 100 });
      watch.start();
      try {
        process.kill(started.pid, 'SIGKILL');
        let health;
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          health = await client.health().catch(() => undefined);
          if (health !== undefined && health.pid !== started.pid) break;
          await sleep(100);
        }
        assert.ok(health && health.pid !== started.pid, 'a new router answers');
        assert.equal(health.generation, 1);
        const newPort = Number(health.listen.split(':')[1]);
        assert.equal((await request(newPort, 'app.localhost')).body, 'I am app GET /');
      } finally {
        await watch.stop();
      }

      const pid = (await client.health()).pid;
      assert.equal(await stopRouterProcess(dir, { graceMs: 5_000 }), true);
      assert.equal(alive(pid), false);
      assert.equal(existsSync(path.join(dir, PID_FILE)), false);
      assert.equal(existsSync(path.join(dir, CONTROL_SOCKET)), false);
      assert.equal(await stopRouterProcess(dir, { graceMs: 1_000 }), false, 'nothing left to stop');
    } finally {
      await upstream.close();
    }
  });

  it('reports a router that cannot start with the end of its log', async () => {
    const data = await dataDir();
    await assert.rejects(
      ensureRouterProcess({
        dir: path.join(data, 'router'),
        listen: { host: '127.0.0.1', port: 0 },
        logger: silentLogger(),
        controlTimeoutMs: compiledDefaults.routerControlTimeoutMs,
        command: {
          execPath: process.execPath,
          args: ['-e', 'console.error("cannot bind: boom"); process.exit(3)'],
        },
      }),
      (error: unknown) =>
        error instanceof RouterStartError &&
        /exited with 3/.test(error.message) &&
        /cannot bind: boom/.test(error.message),
    );
  });

  it('leaves a pid file of a process that is not the router alone', async () => {
    const data = await dataDir();
    const dir = path.join(data, 'router');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    // This test process's pid with a start time that is not its own: a recycled pid.
    await writeFile(
      path.join(dir, PID_FILE),
      JSON.stringify({ pid: process.pid, startTime: '1', listen: '127.0.0.1:1' }),
    );
    assert.equal(await stopRouterProcess(dir, { graceMs: 100 }), false);
    assert.ok(alive(process.pid));
    assert.equal(existsSync(path.join(dir, PID_FILE)), false, 'the stale pid file is removed');
  });
});
