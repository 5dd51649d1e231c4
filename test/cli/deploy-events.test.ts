// A build that prints 20,000 lines (about 1 MiB of events) on a real server: `berth deploy`,
// `git push`'s remote: lines, the WebSocket `events` method and the events endpoint each show
// every line exactly once and in order, and a follower resuming from its cursor misses
// nothing and repeats nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import type { BundleFiles } from '../support/bundles.js';
import { cli } from '../support/cli.js';
import { backends } from '../support/databases.js';
import { eventually } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';
import { WsTestClient } from '../support/ws-client.js';

const LINES = 20_000;
const expected = Array.from({ length: LINES }, (_, i) => i);

function noisyApp(version: string): BundleFiles {
  return {
    'package.json': `${JSON.stringify({
      name: 'noisy',
      version: '1.0.0',
      private: true,
      scripts: {
        build: `node -e "for (let i=0;i<${LINES};i++) console.log('line '+i)"`,
        start: 'node server.js',
      },
    })}\n`,
    'server.js': nodeHelloApp['server.js'] ?? '',
    'VERSION.txt': `${version}\n`,
  };
}

function writeTree(dir: string, files: BundleFiles): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
}

/** The numbers of the `line N` lines in `text`, in the order they appear. */
function numbered(lines: readonly string[], prefix: RegExp): number[] {
  const out: number[] = [];
  for (const text of lines) {
    const m = prefix.exec(text);
    if (m?.[1] !== undefined) out.push(Number(m[1]));
  }
  return out;
}

interface Event {
  id: number;
  kind: string;
  step: string | null;
  text?: string;
}

function gitRun(args: string[], cwd: string, home: string) {
  return new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      'git',
      ['-c', 'credential.helper=', '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args],
      {
        cwd,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, GIT_TERMINAL_PROMPT: '0' },
        timeout: 180_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, _stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
    );
  });
}

for (const backend of backends) {
  describe(`20,000 build lines, followed four ways, on ${backend}`, () => {
    let server: TestServer;
    let env: NodeJS.ProcessEnv;
    const scratch: string[] = [];
    const app = 'noisy1';

    before(async () => {
      server = await startTestServer(backend);
      env = { BERTH_SERVER: server.url, BERTH_TOKEN: server.adminToken };
      const created = await cli(['apps', 'create', app], { env });
      assert.equal(created.code, 0, created.stderr);
    });
    after(async () => {
      await server?.close();
      for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    });

    const events = async (id: string, after: number, limit: number) => {
      const page = await server.request(
        'GET',
        `/apps/${app}/deployments/${id}/events?after=${after}&limit=${limit}`,
        { token: server.adminToken },
      );
      assert.equal(page.status, 200, JSON.stringify(page.body));
      return page.body as { events: Event[]; next: number };
    };
    const readAll = async (id: string, from = 0, limit = 1000) => {
      const all: Event[] = [];
      for (let cursor = from; ;) {
        const page = await events(id, cursor, limit);
        if (page.events.length === 0) return all;
        all.push(...page.events);
        cursor = page.next;
      }
    };

    it('berth deploy and a live WebSocket follower show every line once, in order', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-noisy-'));
      scratch.push(dir);
      writeTree(dir, noisyApp('one'));
      const started = Date.now();
      const deploying = cli(['deploy', dir, '--app', app], { env });

      // Subscribe while the task runs: the stored events first, then live ones.
      let id = '';
      await eventually('the task to be queued', async () => {
        const list = await server.request('GET', `/apps/${app}/deployments`, {
          token: server.adminToken,
        });
        id = (list.body as { id: string }[])[0]?.id ?? '';
        return id !== '';
      });
      const ws = await WsTestClient.connect(server.url);
      await ws.call('login', { token: server.adminToken });
      const subscribed = await ws.call('events', { app, deployment: id, after: 0 });
      assert.ok(subscribed['result'], JSON.stringify(subscribed));
      const pushed: Event[] = [];
      for (;;) {
        const push = (await ws.nextPush(60_000)) as unknown as { event?: Event; end?: unknown };
        if (push.end) break;
        assert.ok(push.event, JSON.stringify(push));
        pushed.push(push.event);
      }
      ws.close();

      const result = await deploying;
      const ms = Date.now() - started;
      assert.equal(result.code, 0, `${result.stdout.slice(-2000)}\n${result.stderr}`);
      assert.deepEqual(numbered(result.stdout.split('\n'), /^ {7}line (\d+)$/), expected);
      assert.match(result.stdout, /deployed noisy1: release v1\n$/);
      assert.deepEqual(
        numbered(
          pushed.filter((e) => e.kind === 'line').map((e) => e.text ?? ''),
          /^line (\d+)$/,
        ),
        expected,
      );
      const stored = await readAll(id);
      assert.deepEqual(stored, pushed, 'the WebSocket saw exactly the stored events');
      // A follower that stopped at event 12,345 and comes back with its cursor.
      const cursor = stored[12_344]?.id ?? 0;
      assert.deepEqual(await readAll(id, cursor, 777), stored.slice(12_345));
      console.log(
        `${backend}: berth deploy of a ${LINES}-line build took ${ms} ms; ${stored.length} events`,
      );
    });

    it("git push's remote: lines show every line once, in order", async () => {
      const home = mkdtempSync(path.join(os.tmpdir(), 'berth-noisy-home-'));
      const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-noisy-git-'));
      scratch.push(home, dir);
      const run = async (args: string[]) => {
        const r = await gitRun(args, dir, home);
        assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr.slice(-2000)}`);
        return r;
      };
      await run(['init', '--quiet', '--initial-branch=main', '.']);
      writeTree(dir, noisyApp('two'));
      await run(['add', '-A']);
      await run(['commit', '--quiet', '-m', 'noisy']);
      const url = new URL(`/git/${app}.git`, server.url);
      url.username = 'git';
      url.password = server.adminToken;
      const started = Date.now();
      const pushed = await run(['push', url.toString(), 'main']);
      const ms = Date.now() - started;
      const lines = pushed.stderr.split('\n').map((l) => l.replace(/\s+$/, ''));
      assert.deepEqual(numbered(lines, /^remote: build: line (\d+)$/), expected);
      assert.ok(lines.some((l) => /^remote: berth: deployed noisy1 release v2$/.test(l)));
      console.log(`${backend}: git push of a ${LINES}-line build took ${ms} ms`);
    });
  });
}
