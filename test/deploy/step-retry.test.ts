// A deploy step that fails retryably runs again, a bounded number of times with a wait that
// grows, each attempt a line in the deployment's events; one that cannot succeed fails at
// once. The engine is the test run's real Podman, reached through a socket the test can cut
// (like stopping the engine, but back at once, so "it clears before attempt 2" is certain).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../support/api.js';
import { tarGzBundle, type BundleFiles } from '../support/bundles.js';
import { connectTestEngine, removeTestApps, testEngineSocket } from '../support/engine.js';
import { deploy, viaRouter, waitForTask } from '../support/platform.js';
import { failingBuildApp, nodeHelloApp, withVersion } from '../support/sample-apps.js';

interface Event {
  id: number;
  kind: string;
  step: string | null;
  text?: string;
}

async function allEvents(server: TestServer, app: string, id: string): Promise<Event[]> {
  const all: Event[] = [];
  for (let cursor = 0; ;) {
    const page = await server.request(
      'GET',
      `/apps/${app}/deployments/${id}/events?after=${cursor}&limit=1000`,
      { token: server.adminToken },
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    const body = page.body as { events: Event[]; next: number };
    if (body.events.length === 0) return all;
    all.push(...body.events);
    cursor = body.next;
  }
}

async function latestTaskId(server: TestServer, app: string): Promise<string> {
  const [task] = (
    await server.request('GET', `/apps/${app}/deployments`, { token: server.adminToken })
  ).body as { id: string }[];
  assert.ok(task, `${app} has a deployment`);
  return task.id;
}

const attemptLines = (events: Event[]) =>
  events.filter((e) => e.kind === 'line' && /attempt \d+ of \d+/.test(e.text ?? ''));
const buildStarts = (events: Event[]) =>
  events.filter((e) => e.kind === 'step-started' && e.step === 'build');

/** A pass-through to the real engine's socket that the test can cut (gone, ENOENT) and mend. */
class CuttableSocket {
  readonly path: string;
  readonly #target: string;
  readonly #open = new Set<net.Socket>();
  #server: net.Server | undefined;

  constructor(dir: string, target: string) {
    this.path = path.join(dir, 'engine.sock');
    this.#target = target;
  }

  async mend(): Promise<void> {
    if (this.#server) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.#target);
      for (const socket of [client, upstream]) {
        this.#open.add(socket);
        socket.once('close', () => this.#open.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, resolve);
    });
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#open) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

async function post(server: TestServer, app: string, files: BundleFiles): Promise<string> {
  const queued = await server.request('POST', `/deployments/${app}`, {
    token: server.adminToken,
    raw: { data: await tarGzBundle(files), contentType: 'application/gzip' },
  });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  return (queued.body as { id: string }).id;
}

describe('a build that fails for a reason of its own is not retried (process runtime)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite', { env: { BERTH_DEPLOY_RETRY_BASE_MS: '50' } });
    const created = await server.request('POST', '/apps', {
      token: server.adminToken,
      body: { name: 'script1' },
    });
    assert.equal(created.status, 201);
  });
  after(() => server.close());

  it('fails after exactly one attempt when the build script exits 1', async () => {
    const started = Date.now();
    const record = await deploy(server, server.adminToken, 'script1', failingBuildApp);
    assert.equal(record.status, 'failed');
    assert.match(record.details.error ?? '', /^build failed: npm run build exited with code 1/);
    assert.doesNotMatch(record.details.error ?? '', /attempts/);
    const events = await allEvents(server, 'script1', await latestTaskId(server, 'script1'));
    assert.equal(buildStarts(events).length, 1);
    assert.deepEqual(attemptLines(events), [], 'no attempt lines');
    assert.equal(
      events.filter((e) => e.kind === 'line' && e.text === 'build failed on purpose').length,
      1,
      'the script ran once',
    );
    console.log(`# non-retryable build failure: failed in ${Date.now() - started} ms`);
  });
});

describe('a build whose container engine does not answer is retried (container runtime)', () => {
  let dir: string;
  let engine: CuttableSocket;
  let server: TestServer;
  const app = 'retry1';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-retry-'));
    engine = new CuttableSocket(dir, testEngineSocket());
    await engine.mend();
    server = await startTestServer('sqlite', {
      runtime: 'container',
      engineSocket: engine.path,
      env: { BERTH_DEPLOY_RETRY_ATTEMPTS: '3', BERTH_DEPLOY_RETRY_BASE_MS: '500' },
    });
    const created = await server.request('POST', '/apps', {
      token: server.adminToken,
      body: { name: app },
    });
    assert.equal(created.status, 201);
  });
  after(async () => {
    await engine.mend().catch(() => undefined);
    await server.close();
    const { engine: real } = await connectTestEngine();
    await removeTestApps(real, [app]);
    await engine.cut();
    rmSync(dir, { recursive: true, force: true });
  });

  it('succeeds on attempt 2 when the engine is back before it, with the attempt in the events', async () => {
    await engine.cut();
    const started = Date.now();
    const id = await post(server, app, withVersion(nodeHelloApp, 'one'));
    // The engine comes back while the deployer waits before attempt 2.
    for (;;) {
      const lines = attemptLines(await allEvents(server, app, id));
      if (lines.length > 0) break;
      assert.ok(Date.now() - started < 60_000, 'no attempt line within 60 s');
      await sleep(20);
    }
    const waitedAt = Date.now() - started;
    await engine.mend();
    const record = await waitForTask(server, server.adminToken, app);
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const events = await allEvents(server, app, id);
    const lines = attemptLines(events).map((e) => e.text ?? '');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(
      lines[0] ?? '',
      /^build: attempt 2 of 3 after: build failed: the container engine does not answer .*\(retrying in 500 ms\)$/,
    );
    assert.equal(attemptLines(events)[0]?.step, 'build');
    assert.equal(buildStarts(events).length, 1, 'one build step, run twice');
    assert.equal(
      (await viaRouter(server.server.routerUrl, app)).text,
      `hello from ${app} v${record.release}`,
    );
    console.log(
      `# retry then succeed: attempt line after ${waitedAt} ms, succeeded after ${Date.now() - started} ms`,
    );
  });

  it('fails after 3 attempts while the engine stays gone, naming the last reason', async () => {
    await engine.cut();
    const started = Date.now();
    const record = await deploy(server, server.adminToken, app, withVersion(nodeHelloApp, 'two'));
    const elapsed = Date.now() - started;
    await engine.mend();
    assert.equal(record.status, 'failed');
    assert.equal(record.release, null, 'no release without an image');
    assert.match(
      record.details.error ?? '',
      /^gave up after 3 attempts; the last: build failed: the container engine does not answer/,
    );
    const events = await allEvents(server, app, await latestTaskId(server, app));
    assert.deepEqual(
      attemptLines(events).map((e) =>
        /attempt (\d) of 3.*retrying in (.*)\)$/.exec(e.text ?? '')?.slice(1),
      ),
      [
        ['2', '500 ms'],
        ['3', '2 s'],
      ],
    );
    assert.ok(elapsed >= 2500, `waited 0.5 s then 2 s (took ${elapsed} ms)`);
    console.log(`# retry that does not clear: failed after ${elapsed} ms`);
  });
});
