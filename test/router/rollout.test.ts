import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import {
  request,
  startTestRouter,
  startUpstream,
  unitsRoute,
  type TestRouter,
  type TestUpstream,
} from './support/fixtures.js';

/** Keeps `loops` keep-alive request loops going until stopped; counts answers per unit. */
function loadLoop(port: number, host: string, loops = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const served = new Map<string, number>();
  const failures: string[] = [];
  let running = true;
  const done = Promise.all(
    Array.from({ length: loops }, async () => {
      while (running) {
        try {
          const res = await request(port, host, { agent });
          if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
          else {
            const unit = res.body.split(' ')[2] ?? '';
            served.set(unit, (served.get(unit) ?? 0) + 1);
          }
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    }),
  );
  return {
    served,
    failures,
    stop: async () => {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

async function until(check: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Stops a unit the way a process does on SIGTERM: no new connections, idle ones closed. */
function stopGently(upstream: TestUpstream): Promise<void> {
  return new Promise((resolve) => upstream.server.close(() => resolve()));
}

describe('builtin router: rollouts', () => {
  let router: TestRouter;
  before(async () => {
    router = await startTestRouter();
  });
  after(async () => {
    await router.close();
  });

  it('swaps A→B under a continuous loop of requests and loses none', async () => {
    const a = await startUpstream('A');
    const b = await startUpstream('B');
    const key = `127.0.0.1:${a.port}`;
    try {
      await router.put([unitsRoute('roll', ['roll.localhost'], [a])]);
      const load = loadLoop(router.port, 'roll.localhost');
      await sleep(200);
      await router.put([unitsRoute('roll', ['roll.localhost'], [b])]);
      // A's last requests finish; only then is A stopped, as a rollout does.
      await until(async () => (await router.client.inflight())[key] === undefined, 'A to drain');
      await stopGently(a);
      const servedByA = load.served.get('A') ?? 0;
      await sleep(200);
      await load.stop();
      assert.deepEqual(load.failures, []);
      assert.ok(servedByA > 0, 'A served before the swap');
      assert.equal(load.served.get('A'), servedByA, 'A served nothing after it stopped');
      assert.ok((load.served.get('B') ?? 0) > 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('retries on the other unit when a unit stops while still in the table', async () => {
    const a = await startUpstream('A');
    const b = await startUpstream('B');
    try {
      await router.put([unitsRoute('stop', ['stop.localhost'], [a, b])]);
      const load = loadLoop(router.port, 'stop.localhost');
      await sleep(150);
      await stopGently(a);
      const before = load.served.get('B') ?? 0;
      await sleep(300);
      await load.stop();
      assert.deepEqual(load.failures, []);
      assert.ok((load.served.get('B') ?? 0) > before, 'B took over');
      // Passive health: the refused unit is passed over, not tried (and retried) on every request.
      const plain = await request(router.port, 'stop.localhost');
      assert.equal(plain.body, 'I am B GET /');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('counts requests in flight to a unit removed from the table, and closes its idle sockets', async () => {
    let release: (() => void) | undefined;
    const slow = await startUpstream('slow', (req, res) => {
      if (req.url === '/hang') release = () => res.end('late');
      else res.end('fast');
    });
    const open = new Set<unknown>();
    slow.server.on('connection', (socket: Socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    const next = await startUpstream('next');
    const key = `127.0.0.1:${slow.port}`;
    try {
      await router.put([unitsRoute('drain', ['drain.localhost'], [slow])]);
      const agent = new http.Agent({ keepAlive: true });
      // One request left hanging, and an idle keep-alive socket from router to unit.
      const hanging = request(router.port, 'drain.localhost', { path: '/hang' });
      await until(async () => (await router.client.inflight())[key] === 1, 'the hanging request');
      assert.equal((await request(router.port, 'drain.localhost', { agent })).body, 'fast');
      assert.equal(open.size, 2);

      await router.put([unitsRoute('drain', ['drain.localhost'], [next])]);
      assert.deepEqual(await router.client.inflight(), { [key]: 1 });
      await until(async () => open.size === 1, 'the idle socket to close');
      release?.();
      assert.equal((await hanging).body, 'late');
      await until(async () => Object.keys(await router.client.inflight()).length === 0, 'zero');
      await until(async () => open.size === 0, 'the last socket to close');
      assert.equal(
        (await request(router.port, 'drain.localhost', { agent })).body,
        'I am next GET /',
      );
      agent.destroy();
    } finally {
      await slow.close();
      await next.close();
    }
  });
});
