// Git's push limit, SSH's login timeout and the router watch's interval come from the compiled
// server options, and only from there: a server compiled with other values acts on them, and
// the defaults are what the components used to write down themselves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTROL_SOCKET, readRouterPidFile, RouterClient } from '../../src/router/index.js';
import { compileServerOptions } from '../../src/server/index.js';
import { startTestServer, type TestServer } from '../support/api.js';
import { eventually } from '../support/platform.js';
import { compiledDefaults } from '../support/compiled-defaults.js';

describe('git, SSH and router watch values compiled into the server options', () => {
  it('default a 1 GiB push, 30 s to log in over SSH and a router check every 2 s', () => {
    const defaults = compileServerOptions({}, {});
    assert.equal(defaults.gitMaxPushBytes, 1024 * 1024 * 1024);
    assert.equal(defaults.sshAuthTimeoutMs, 30_000);
    assert.equal(defaults.routerWatchIntervalMs, 2000);
  });

  describe('a server compiled with others', () => {
    let api: TestServer;
    before(async () => {
      api = await startTestServer('sqlite', {
        compiled: {
          gitMaxPushBytes: 64 * 1024,
          sshAuthTimeoutMs: 300,
          // Longer than the test waits: a router that dies is not started again meanwhile.
          routerWatchIntervalMs: 60_000,
        },
      });
      const created = await api.request('POST', '/apps', {
        token: api.adminToken,
        body: { name: 'limits' },
      });
      assert.equal(created.status, 201);
    });
    after(() => api.close());

    const receivePack = (bytes: number) =>
      fetch(new URL('/git/limits.git/git-receive-pack', api.url), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`git:${api.adminToken}`).toString('base64')}`,
          'content-type': 'application/x-git-receive-pack-request',
        },
        body: randomBytes(bytes),
      }).then(
        async (response) => {
          await response.arrayBuffer().catch(() => undefined);
          return response.status;
        },
        () => 'cut off' as const,
      );
    const overLimit = () => api.logText().includes('git request body over the limit');

    it('passes a push under its git limit to git, and cuts one over it off', async () => {
      await receivePack(1024);
      assert.equal(overLimit(), false, 'a 1 KiB body is within 64 KiB');
      const over = await receivePack(256 * 1024);
      assert.notEqual(over, 200);
      await eventually('the server to cut the push off', () => Promise.resolve(overLimit()));
    });

    it('closes an SSH connection that does not log in within its SSH timeout', async () => {
      const url = new URL(api.server.sshUrl ?? assert.fail('the test server serves SSH'));
      const socket = net.connect(Number(url.port), url.hostname);
      const started = Date.now();
      const banner = new Promise<string>((resolve) =>
        socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
      );
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      assert.match(await banner, /^SSH-2\.0-/);
      // A client that names itself and then says nothing more; the default would keep it 30 s.
      socket.write('SSH-2.0-silent_test_client\r\n');
      await Promise.race([
        closed,
        sleep(5000).then(() => assert.fail('the connection is still open after 5 s')),
      ]);
      assert.ok(Date.now() - started >= 250, 'not before its timeout');
      socket.destroy();
    });

    it('checks its router at its own interval: a router killed stays gone for 3 s', async () => {
      const dir = path.join(api.location.dataDir, 'router');
      const router = await readRouterPidFile(dir);
      assert.ok(router, 'the server started a router');
      process.kill(router.pid, 'SIGKILL');
      const client = new RouterClient({
        controlSocket: path.join(dir, CONTROL_SOCKET),
        timeoutMs: compiledDefaults.routerControlTimeoutMs,
      });
      await eventually('the router to be gone', () =>
        client.health().then(
          () => false,
          () => true,
        ),
      );
      // With the default 2 s interval the watch would have started it again by now.
      await sleep(3500);
      await assert.rejects(client.health(), 'nothing started the router again');
    });
  });
});
