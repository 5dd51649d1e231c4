// BERTH_DEPLOY_LOG_LIMIT reaches the deployments a server runs: a build that prints more than
// the limit keeps the newest lines under it, after a marker that says how many went.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import type { BundleFiles } from '../support/bundles.js';
import { deploy } from '../support/platform.js';

const LINES = 3000;

/** A node app whose build script prints LINES lines (about 150 KiB of events), then fails. */
const noisyBuildApp: BundleFiles = {
  'package.json': `${JSON.stringify({
    name: 'noisy-build',
    version: '1.0.0',
    private: true,
    scripts: { build: 'node build.js', start: 'node server.js' },
  })}\n`,
  'build.js': `for (let i = 0; i < ${LINES}; i++) console.log('build line ' + i + ' ' + 'x'.repeat(24));
process.exitCode = 1;
`,
  'server.js': '',
};

interface Event {
  readonly id: number;
  readonly kind: string;
  readonly text?: string;
  readonly lines?: number;
}

describe('the deployment log limit of a server (BERTH_DEPLOY_LOG_LIMIT)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite', { env: { BERTH_DEPLOY_LOG_LIMIT: '16KiB' } });
    const created = await server.request('POST', '/apps', {
      token: server.adminToken,
      body: { name: 'noisy' },
    });
    assert.equal(created.status, 201);
  });
  after(() => server.close());

  it('keeps the newest lines within the limit, after a marker counting the dropped ones', async () => {
    const record = await deploy(server, server.adminToken, 'noisy', noisyBuildApp);
    assert.equal(record.status, 'failed');
    const [task] = (
      await server.request('GET', '/apps/noisy/deployments', { token: server.adminToken })
    ).body as { id: string }[];
    assert.ok(task);
    const page = await server.request(
      'GET',
      `/apps/noisy/deployments/${task.id}/events?after=0&limit=1000`,
      { token: server.adminToken },
    );
    assert.equal(page.status, 200);
    const events = (page.body as { events: Event[] }).events;
    const markers = events.filter((e) => e.kind === 'trimmed');
    assert.ok(markers.length > 0, 'lines were dropped, and a marker says so');
    const built = events.filter((e) => e.kind === 'line' && /^build line \d+/.test(e.text ?? ''));
    assert.match(built.at(-1)?.text ?? '', new RegExp(`^build line ${LINES - 1} `));
    const kept = events
      .filter((e) => e.kind === 'line')
      .reduce((n, e) => n + JSON.stringify({ text: e.text }).length, 0);
    assert.ok(kept <= 16 * 1024, `${kept} bytes of lines kept`);
    const dropped = markers.reduce((n, e) => n + (e.lines ?? 0), 0);
    assert.ok(dropped + built.length >= LINES, `${dropped} dropped + ${built.length} kept`);
    console.log(
      `# 16KiB limit: kept ${built.length} build lines (${kept} bytes), dropped ${dropped}`,
    );
  });
});
