// End to end on the container runtime, against the test run's real Podman engine through its
// Docker API: a Dockerfile app, generated-Dockerfile Node and Python apps, a failing build, a
// redeploy under load that reuses cached layers, a failed health check, scaling with limits,
// an out-of-memory kill, rollback without a rebuild, controller restart and image cleanup.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_USER_WARNING } from '../../src/build/index.js';
import type { Engine } from '../../src/engine/index.js';
import { createLogger } from '../../src/logging/index.js';
import { compileServerOptions, startServer } from '../../src/server/index.js';
import { startTestServer, testUnitPorts, type TestServer } from '../support/api.js';
import {
  connectTestEngine,
  removeTestApps,
  testBaseImage,
  testEngineSocket,
} from '../support/engine.js';
import { deploy, eventually, RequestLoop, viaRouter } from '../support/platform.js';
import {
  failingHealthApp,
  nodeHelloApp,
  pythonHelloApp,
  staticSite,
  withVersion,
} from '../support/sample-apps.js';

interface Unit {
  type: string;
  index: number;
  state: string;
  release: number;
  unit: string;
  restarts: number;
  address: string;
  lastExit?: { code: number | null; signal: string | null; reason?: string };
}

/** A Dockerfile app of the user's own: its CMD runs, it listens on $PORT. */
function dockerfileApp(marker: string) {
  return {
    Dockerfile: [
      `FROM ${testBaseImage('node')}`,
      'WORKDIR /srv',
      'COPY server.js .',
      'CMD ["node", "server.js"]',
      '',
    ].join('\n'),
    'server.js': `const http = require('http');
const server = http.createServer((q, s) => s.end('dockerfile ${marker} ' + process.env.BERTH_RELEASE));
server.listen(Number(process.env.PORT), () => console.log('dockerfile app up'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
  };
}

/** A Dockerfile whose RUN fails after printing a line of its own. */
const failingDockerfileApp = {
  Dockerfile: [
    `FROM ${testBaseImage('node')}`,
    'RUN echo "compiling the thing" && echo "the build broke on purpose" >&2 && exit 3',
    '',
  ].join('\n'),
};

/** The hello app with `/hog`, which allocates memory until the unit's limit kills it. */
const memoryHogApp = {
  ...nodeHelloApp,
  'server.js': (nodeHelloApp['server.js'] ?? '').replace(
    'const server = http.createServer(handle);',
    `const hoard = [];
const server = http.createServer((q, s) => {
  if (q.url === '/hog') { s.end('hogging'); setInterval(() => hoard.push(Buffer.alloc(8 << 20, 1)), 5); return; }
  handle(q, s);
});`,
  ),
};

/** The apps this file creates. */
const APPS = ['dock1', 'dock2', 'node1', 'py1', 'site1', 'hog1', 'keep1'];

describe('apps on the container runtime (Podman through the Docker API)', () => {
  let server: TestServer;
  let engine: Engine;
  let token: string;
  let routerUrl: string;

  before(async () => {
    ({ engine } = await connectTestEngine());
    server = await startTestServer('sqlite', {
      runtime: 'container',
      env: { BERTH_IMAGE_KEEP: '3', BERTH_STOP_GRACE_MS: '3000', BERTH_DRAIN_TIMEOUT_MS: '3000' },
    });
    token = server.adminToken;
    routerUrl = server.server.routerUrl;
  });
  after(async (context) => {
    if (process.env['BERTH_TEST_SHOW_SERVER_LOG']) {
      const lines = server.logText().split('\n');
      console.log(lines.filter((line) => !line.includes('"msg":"request"')).join('\n'));
    }
    await server.close();
    void context;
    // The engine outlives the test: its images of these apps would meet the next run's.
    await removeTestApps(engine, APPS);
  });

  async function createApp(name: string): Promise<void> {
    const reply = await server.request('POST', '/apps', { token, body: { name } });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
  }

  const unitsOf = async (app: string): Promise<Unit[]> =>
    (await server.request('GET', `/apps/${app}/processes`, { token })).body as Unit[];

  const imageId = async (ref: string): Promise<string> => (await engine.getImage(ref).inspect()).Id;

  it('builds and runs a Dockerfile app with its own CMD, as image berth/<app>:v1', async () => {
    await createApp('dock1');
    const record = await deploy(server, token, 'dock1', dockerfileApp('one'));
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.equal((await viaRouter(routerUrl, 'dock1')).text, 'dockerfile one 1');
    assert.ok(await imageId('berth/dock1:v1'));
    const [unit] = await unitsOf('dock1');
    assert.equal(unit?.state, 'running');
    const containers = await engine.listContainers({
      filters: { label: ['berth.app=dock1', 'berth.kind=unit'] },
    });
    assert.equal(containers.length, 1);
    const info = await engine.getContainer(containers[0]!.Id).inspect();
    assert.equal(info.HostConfig.Privileged, false);
    assert.deepEqual(info.HostConfig.Binds ?? [], [], 'no host mounts');
    assert.equal(info.Config.Labels['berth.process'], 'web');
    assert.equal(info.Config.Labels['berth.release'], '1');
    // Its Dockerfile has no USER: allowed, and the build step's log says so.
    const [task] = (await server.request('GET', '/apps/dock1/deployments', { token })).body as {
      id: string;
    }[];
    assert.ok(task);
    const events = JSON.stringify(
      (await server.request('GET', `/apps/dock1/deployments/${task.id}`, { token })).body,
    );
    assert.ok(events.includes(ROOT_USER_WARNING), events);
    await eventually("the app's output is in its log", async () => {
      const logs = await server.request('GET', '/apps/dock1/logs?tail=50', { token });
      return (logs.body as { text: string }[]).some((line) => line.text === 'dockerfile app up');
    });
  });

  it('fails a Dockerfile that does not build with its last lines, and makes no release', async () => {
    await createApp('dock2');
    const record = await deploy(server, token, 'dock2', failingDockerfileApp);
    assert.equal(record.status, 'failed');
    assert.equal(record.release, null);
    assert.match(record.details.error ?? '', /build failed/);
    assert.match(record.details.error ?? '', /the build broke on purpose/);
    const releases = await server.request('GET', '/apps/dock2/releases', { token });
    assert.deepEqual(releases.body, []);
    assert.deepEqual(await unitsOf('dock2'), []);
  });

  it('deploys a Node app from a generated Dockerfile; a code-only redeploy under load reuses layers and fails no request', async () => {
    await createApp('node1');
    const first = await deploy(server, token, 'node1', withVersion(nodeHelloApp, 'one'));
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    assert.equal((await viaRouter(routerUrl, 'node1')).text, 'hello from node1 v1');
    const tasks1 = (await server.request('GET', `/apps/node1/deployments`, { token })).body as {
      id: string;
    }[];
    const built = JSON.stringify(
      (await server.request('GET', `/apps/node1/deployments/${tasks1[0]?.id}`, { token })).body,
    );
    assert.ok(!built.includes('warning: the image runs as root'), 'a generated image is not root');
    const loop = new RequestLoop(routerUrl, 'node1', { connections: 4 });
    let second;
    try {
      await eventually('requests flow', async () => loop.requests > 20);
      second = await deploy(server, token, 'node1', withVersion(nodeHelloApp, 'two'));
      const before = loop.requests;
      await eventually('requests reach v2', async () => loop.requests > before + 20);
    } finally {
      await loop.stop();
    }
    assert.equal(second.status, 'succeeded', second.details.error ?? '');
    assert.deepEqual(loop.failures, [], `${loop.failures.length} of ${loop.requests} failed`);
    assert.ok(loop.bodies.has('hello from node1 v1'));
    assert.ok(loop.bodies.has('hello from node1 v2'));
    const tasks = (await server.request('GET', `/apps/node1/deployments`, { token })).body as {
      id: string;
      release: number | null;
    }[];
    const task = tasks.find((t) => t.release === 2);
    assert.ok(task, JSON.stringify(tasks));
    const text = JSON.stringify(
      (await server.request('GET', `/apps/node1/deployments/${task.id}`, { token })).body,
    );
    assert.match(text, /steps from the layer cache/);
    assert.match(text, /Using cache/, 'the base and dependency layers came from the cache');
    assert.deepEqual(
      (await unitsOf('node1')).map((u) => [u.type, u.release, u.state]),
      [['web', 2, 'running']],
    );
  });

  it('deploys a Python app whose venv is built into the image', async () => {
    await createApp('py1');
    const record = await deploy(server, token, 'py1', pythonHelloApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.equal((await viaRouter(routerUrl, 'py1')).text, 'hello from python py1 v1');
    assert.equal((await viaRouter(routerUrl, 'py1', '/venv')).text, '/app/.venv');
  });

  it('serves a static site from the router, with no image and no unit', async () => {
    await createApp('site1');
    const record = await deploy(server, token, 'site1', staticSite);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    assert.match((await viaRouter(routerUrl, 'site1', '/')).text, /static home/);
    assert.deepEqual(await unitsOf('site1'), []);
  });

  it('keeps the old release serving when the new one fails its health check', async () => {
    const loop = new RequestLoop(routerUrl, 'node1', { connections: 2 });
    let record;
    try {
      await eventually('requests flow', async () => loop.requests > 10);
      record = await deploy(server, token, 'node1', failingHealthApp);
    } finally {
      await loop.stop();
    }
    assert.equal(record.status, 'failed');
    assert.match(record.details.error ?? '', /health check/);
    assert.deepEqual(loop.failures, []);
    assert.deepEqual([...loop.bodies.keys()], ['hello from node1 v2']);
    assert.deepEqual(
      (await unitsOf('node1')).map((u) => u.release),
      [2],
      'the failed release left no container behind',
    );
  });

  it('rolls back to v1 by tagging its image again: nothing rebuilds', async () => {
    const before = await imageId('berth/node1:v1');
    const rollback = await server.request('POST', '/apps/node1/rollback', {
      token,
      body: { version: 1 },
    });
    assert.equal(rollback.status, 201, JSON.stringify(rollback.body));
    const version = (rollback.body as { version: number }).version;
    await eventually('v1 code serves again', async () => {
      const reply = await viaRouter(routerUrl, 'node1', '/version');
      return reply.text === 'one';
    });
    assert.equal(await imageId(`berth/node1:v${version}`), before, 'the same image, a new tag');
  });

  it('scales to two units with a memory and CPU limit the engine enforces', async () => {
    const patch = await server.request('PATCH', '/apps/node1/formation', {
      token,
      body: { web: { count: 2, memory: '128M', cpu: 0.5 } },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    await eventually(
      'two limited web units run',
      async () => {
        const units = await unitsOf('node1');
        if (units.filter((u) => u.state === 'running').length !== 2) return false;
        const containers = await engine.listContainers({
          filters: { label: ['berth.app=node1', 'berth.kind=unit'] },
        });
        const limits = await Promise.all(
          containers.map(async (c) => (await engine.getContainer(c.Id).inspect()).HostConfig),
        );
        return (
          limits.length === 2 &&
          limits.every((h) => h.Memory === 128 * 1024 * 1024 && h.NanoCpus === 500_000_000)
        );
      },
      60_000,
    );
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add((await viaRouter(routerUrl, 'node1')).text);
    assert.equal(bodies.size, 1, 'both units serve the same release');
  });

  it('sees an out-of-memory kill, records it on the unit and restarts it', async () => {
    await createApp('hog1');
    const record = await deploy(server, token, 'hog1', memoryHogApp);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const patch = await server.request('PATCH', '/apps/hog1/formation', {
      token,
      body: { web: { count: 1, memory: '64M' } },
    });
    assert.equal(patch.status, 200);
    await eventually(
      'the limited unit runs',
      async () => {
        // One unit only: while the formation change replaces the first one, both are listed
        // (the old one stopping), and a request to the old one hogs nothing that is limited.
        const units = await unitsOf('hog1');
        const containers = await engine.listContainers({
          all: true,
          filters: { label: ['berth.app=hog1', 'berth.kind=unit'] },
        });
        if (units.length !== 1 || containers.length !== 1 || !containers[0]) return false;
        const memory = (await engine.getContainer(containers[0].Id).inspect()).HostConfig.Memory;
        return units[0]?.state === 'running' && memory === 64 * 1024 * 1024;
      },
      60_000,
    );
    // Straight to the limited unit, not through the router: no other unit can take it.
    const [limited] = await unitsOf('hog1');
    assert.ok(limited);
    const killed = await (async () => {
      let seen: Unit[] = [];
      const hogging = await fetch(`http://${limited.address}/hog`);
      assert.equal(await hogging.text(), 'hogging');
      for (let i = 0; i < 300; i++) {
        seen = await unitsOf('hog1');
        const [unit] = seen;
        if (unit && unit.restarts >= 1) return unit;
        await sleep(100);
      }
      const containers = await engine.listContainers({
        all: true,
        filters: { label: ['berth.app=hog1', 'berth.kind=unit'] },
      });
      const states = await Promise.all(
        containers.map(async (c) => {
          const info = await engine.getContainer(c.Id).inspect();
          // Podman's cgroup v1 layout, for the failure message only.
          const cgroup = `/sys/fs/cgroup/memory/libpod_parent/libpod-${c.Id}`;
          const read = (file: string) => {
            try {
              return readFileSync(`${cgroup}/${file}`, 'utf8').trim();
            } catch {
              return '?';
            }
          };
          return {
            state: info.State,
            memory: info.HostConfig.Memory,
            swap: info.HostConfig.MemorySwap,
            usage: read('memory.usage_in_bytes'),
            limit: read('memory.limit_in_bytes'),
            failcnt: read('memory.failcnt'),
          };
        }),
      );
      const logs = await server.request('GET', '/apps/hog1/logs?tail=30', { token });
      throw new Error(
        `the unit was not killed and restarted: ${JSON.stringify({ seen, states, logs: logs.body })}`,
      );
    })();
    assert.equal(killed.lastExit?.reason, 'oom', JSON.stringify(killed));
    await eventually('it serves again after the restart', async () => {
      return (await viaRouter(routerUrl, 'hog1')).text === 'hello from hog1 v1';
    });
    const logs = await server.request('GET', '/apps/hog1/logs?tail=200', { token });
    assert.ok(
      (logs.body as { text: string }[]).some((line) => /out of memory/.test(line.text)),
      'the kill is in the logs',
    );
  });

  it('keeps only the images of the last BERTH_IMAGE_KEEP releases', async () => {
    await createApp('keep1');
    for (const marker of ['a', 'b', 'c', 'd']) {
      const record = await deploy(server, token, 'keep1', dockerfileApp(marker));
      assert.equal(record.status, 'succeeded', record.details.error ?? '');
    }
    await eventually('v1 is cleaned up', async () => {
      const tags = (await engine.listImages({ filters: { reference: ['berth/keep1'] } })).flatMap(
        (image) => image.RepoTags ?? [],
      );
      const versions = tags
        .filter((tag) => /:v\d+$/.test(tag))
        .map((tag) => tag.replace(/.*:v/, 'v'));
      return versions.sort().join(',') === 'v2,v3,v4';
    });
    const app = await server.request('GET', '/apps/keep1', { token });
    assert.match(JSON.stringify(app.body), /"images":3/);
  });

  it('a restarted controller adopts the running containers instead of replacing them', async () => {
    const before = (await unitsOf('dock1')).map((u) => u.unit);
    await server.server.close();
    const options = compileServerOptions(
      {
        'data-dir': server.location.dataDir,
        listen: '127.0.0.1:0',
        'router-listen': '127.0.0.1:0',
        'ssh-listen': '127.0.0.1:0',
        runtime: 'container',
        'engine-socket': testEngineSocket(),
      },
      { BERTH_CONTAINER_PORTS: testUnitPorts() },
    );
    assert.equal((await viaRouter(routerUrl, 'dock1')).text, 'dockerfile one 1', 'no controller');
    const again = await startServer(options, createLogger({ level: 'silent' }));
    try {
      const units = await fetch(`${again.apiUrl}/api/v1/apps/dock1/processes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const adopted = ((await units.json()) as Unit[]).map((u) => u.unit);
      assert.deepEqual(adopted, before);
      await sleep(1500);
      const later = await fetch(`${again.apiUrl}/api/v1/apps/dock1/processes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.deepEqual(
        ((await later.json()) as Unit[]).map((u) => [u.unit, u.state]),
        before.map((id) => [id, 'running']),
        'the reconciler left them alone',
      );
    } finally {
      await again.close();
    }
  });
});
