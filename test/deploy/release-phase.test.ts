// Heroku's release phase and app.json's deploy scripts, deployed through the API on the
// process runtime: a Procfile `release` runs once per new release before its units (what it
// writes is seen by the web process; a config change runs it again), is never a unit, and a
// failing one fails the deploy while the old release answers every request of a loop; a config
// change whose release phase fails leaves the old release serving and the failure recorded.
// Dokku's predeploy fails a deploy, its postdeploy runs on each deploy, Heroku's postdeploy on
// the first only. Procfile lines run under sh -c with the release's environment ($PORT, &&).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import type { BundleFiles } from '../support/bundles.js';
import { deploy, eventually, RequestLoop, viaRouter } from '../support/platform.js';
import { packageJson } from '../support/sample-apps.js';

interface EventsPage {
  events: { kind: string; step: string | null; text?: string }[];
}

/**
 * A node server: `/marker` answers release-marker.txt of its slug (what the release phase
 * wrote), `/journal` the app's journal in its TMPDIR (what every phase appended), `/line-port`
 * whether the Procfile line's own `$PORT` expansion matches PORT; anything else its release.
 */
const SERVER = `'use strict';
const fs = require('fs');
const http = require('http');
const journal = (process.env.TMPDIR || '/tmp') + '/journal-' + process.env.BERTH_APP;
const read = (file) => { try { return fs.readFileSync(file, 'utf8').trim(); } catch { return 'none'; } };
const server = http.createServer((q, s) => {
  if (q.url === '/marker') return s.end(read(__dirname + '/release-marker.txt'));
  if (q.url === '/journal') return s.end(read(journal).split('\\n').join(' '));
  if (q.url === '/line-port') return s.end(String(process.env.LINE_PORT === process.env.PORT));
  s.end('serving v' + process.env.BERTH_RELEASE);
});
server.listen(Number(process.env.PORT));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

/** Appends `$1-v$BERTH_RELEASE` to the journal; fails with code 7 when FAIL_<$1> is set. */
const NOTE = `#!/bin/sh
echo "$1 of v$BERTH_RELEASE says $GREETING"
echo "$1-v$BERTH_RELEASE" >> "\${TMPDIR:-/tmp}/journal-$BERTH_APP"
eval "fail=\\\${FAIL_$1:-}"
if [ -n "$fail" ]; then echo "$1 refuses: FAIL_$1 is set" >&2; exit 7; fi
`;

function releaseApp(procfile: string, extra: BundleFiles = {}): BundleFiles {
  return {
    'package.json': packageJson('release-phase', { start: 'node server.js' }),
    'server.js': SERVER,
    'note.sh': NOTE,
    Procfile: procfile,
    ...extra,
  };
}

const PROCFILE =
  'web: export LINE_PORT=$PORT && node server.js\n' +
  'release: sh note.sh release && echo "migrated-$BERTH_RELEASE" > release-marker.txt\n';

describe('the release phase and deploy scripts on the process runtime', () => {
  let server: TestServer;
  let token: string;

  const linesOfLatest = async (app: string): Promise<string> => {
    const [newest] = (await server.request('GET', `/apps/${app}/deployments`, { token })).body as {
      id: string;
    }[];
    const page = (
      await server.request('GET', `/apps/${app}/deployments/${newest?.id ?? ''}/events`, {
        token,
      })
    ).body as EventsPage;
    return page.events.map((e) => e.text ?? '').join('\n');
  };
  const get = async (app: string, path: string): Promise<string> =>
    (await viaRouter(server.server.routerUrl, app, path)).text;
  const setConfig = async (app: string, body: Record<string, string | null>) => {
    const reply = await server.request('PATCH', `/apps/${app}/config`, { token, body });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  };

  before(async () => {
    server = await startTestServer('sqlite');
    token = server.adminToken;
    for (const name of ['migrate', 'broken', 'reconfig', 'scripts', 'predeploy']) {
      const created = await server.request('POST', '/apps', { token, body: { name } });
      assert.equal(created.status, 201);
    }
  });
  after(() => server.close());

  it('runs the release phase before the units, never as a unit, and on a config change', async () => {
    await setConfig('migrate', { GREETING: 'hello' });
    const record = await deploy(server, token, 'migrate', releaseApp(PROCFILE));
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    const lines = await linesOfLatest('migrate');
    assert.match(lines, /^release phase: sh note\.sh release && /m);
    assert.match(lines, /^release: release of v1 says hello$/m);
    assert.match(lines, /^release: done in [\d.]+ s$/m);
    // The release phase ran before the web unit started.
    assert.ok(lines.indexOf('release: done') < lines.indexOf('web: starting'), lines);
    assert.equal(await get('migrate', '/marker'), 'migrated-1');
    // Procfile lines run under sh -c with the release's environment.
    assert.equal(await get('migrate', '/line-port'), 'true');

    const processes = (await server.request('GET', '/apps/migrate/processes', { token })).body as {
      type: string;
    }[];
    assert.deepEqual(
      processes.map((p) => p.type),
      ['web'],
    );
    const formation = (await server.request('GET', '/apps/migrate/formation', { token }))
      .body as Record<string, unknown>;
    assert.equal(JSON.stringify(formation).includes('release'), false, JSON.stringify(formation));
    const releases = (await server.request('GET', '/apps/migrate/releases', { token })).body;
    assert.equal(JSON.stringify(releases).includes('note.sh'), false, JSON.stringify(releases));

    // A config change makes v2, and v2's release phase runs before its units serve.
    await setConfig('migrate', { GREETING: 'bonjour' });
    await eventually('v2 serves', async () => (await get('migrate', '/')) === 'serving v2');
    assert.equal(await get('migrate', '/marker'), 'migrated-2');
    assert.equal(await get('migrate', '/journal'), 'release-v1 release-v2');
  });

  it('fails the deploy on a failing release phase, and the old release answers every request', async () => {
    const good = await deploy(server, token, 'broken', releaseApp(PROCFILE));
    assert.equal(good.status, 'succeeded', good.details.error ?? '');
    const loop = new RequestLoop(server.server.routerUrl, 'broken', { connections: 4 });
    const failing = await deploy(
      server,
      token,
      'broken',
      releaseApp(
        'web: node server.js\nrelease: echo "migrating v$BERTH_RELEASE" && echo "no database" >&2 && exit 3\n',
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await loop.stop();
    assert.equal(failing.status, 'failed');
    assert.match(
      failing.details.error ?? '',
      /^v2 did not roll out: release \(.*\) exited with code 3; last output: migrating v2 \| no database; no unit of v2 started; the previous release keeps serving$/,
    );
    const lines = await linesOfLatest('broken');
    assert.match(lines, /^release: migrating v2$/m);
    assert.match(lines, /^release: no database$/m);
    assert.doesNotMatch(lines, /web: starting/);
    assert.ok(loop.requests > 20, `only ${loop.requests} requests`);
    assert.deepEqual(loop.failures, []);
    assert.deepEqual([...loop.bodies.keys()], ['serving v1']);
    assert.equal(await get('broken', '/'), 'serving v1');
  });

  it('leaves the old release serving when a config change makes a failing release phase', async () => {
    const record = await deploy(server, token, 'reconfig', releaseApp(PROCFILE));
    assert.equal(record.status, 'succeeded', record.details.error ?? '');
    await setConfig('reconfig', { FAIL_release: '1' });
    type AppInfo = {
      rollout?: {
        liveVersion: number | null;
        failedVersion: number | null;
        failure: string | null;
      };
    };
    await eventually('v2 is recorded as failed', async () => {
      const info = (await server.request('GET', '/apps/reconfig', { token })).body as AppInfo;
      return info.rollout?.failedVersion === 2;
    });
    const info = (await server.request('GET', '/apps/reconfig', { token })).body as AppInfo;
    assert.equal(info.rollout?.liveVersion, 1);
    assert.match(
      info.rollout?.failure ?? '',
      /^release \(.*\) exited with code 7; last output: .*release refuses: FAIL_release is set; no unit of v2 started$/,
    );
    assert.equal(await get('reconfig', '/'), 'serving v1');
    // Not tried again on later passes: the journal holds one run of v2.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(await get('reconfig', '/journal'), 'release-v1 release-v2');
    // Unsetting it makes v3, which rolls out.
    await setConfig('reconfig', { FAIL_release: null });
    await eventually('v3 serves', async () => (await get('reconfig', '/')) === 'serving v3');
  });

  it("runs Dokku's predeploy and postdeploy on each deploy, Heroku's postdeploy on the first", async () => {
    const files = releaseApp(PROCFILE, {
      'app.json': JSON.stringify({
        scripts: {
          postdeploy: 'sh note.sh first',
          dokku: { predeploy: 'sh note.sh pre', postdeploy: 'sh note.sh post' },
        },
      }),
    });
    const first = await deploy(server, token, 'scripts', files);
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const lines = await linesOfLatest('scripts');
    assert.doesNotMatch(lines, /not applied yet/);
    assert.match(lines, /^postdeploy: first of v1 says /m);
    assert.equal(await get('scripts', '/journal'), 'pre-v1 release-v1 post-v1 first-v1');
    const second = await deploy(server, token, 'scripts', files);
    assert.equal(second.status, 'succeeded', second.details.error ?? '');
    assert.equal(
      await get('scripts', '/journal'),
      'pre-v1 release-v1 post-v1 first-v1 pre-v2 release-v2 post-v2',
    );
    // A config change runs the release phase only.
    await setConfig('scripts', { GREETING: 'hi' });
    await eventually('v3 serves', async () => (await get('scripts', '/')) === 'serving v3');
    assert.equal(
      await get('scripts', '/journal'),
      'pre-v1 release-v1 post-v1 first-v1 pre-v2 release-v2 post-v2 release-v3',
    );
    // A failing dokku postdeploy is reported; the new release stays.
    await setConfig('scripts', { FAIL_post: '1' });
    await eventually('v4 serves', async () => (await get('scripts', '/')) === 'serving v4');
    const third = await deploy(server, token, 'scripts', files);
    assert.equal(third.status, 'succeeded', third.details.error ?? '');
    assert.match(
      await linesOfLatest('scripts'),
      /^warning: postdeploy \(sh note\.sh post\) exited with code 7; last output: .*; v5 keeps serving$/m,
    );
    assert.equal(await get('scripts', '/'), 'serving v5');
  });

  it('fails the deploy on a failing predeploy, with the old release serving', async () => {
    const good = await deploy(server, token, 'predeploy', releaseApp('web: node server.js\n'));
    assert.equal(good.status, 'succeeded', good.details.error ?? '');
    const bad = await deploy(
      server,
      token,
      'predeploy',
      releaseApp(PROCFILE, {
        'app.json': JSON.stringify({ scripts: { dokku: { predeploy: 'echo nope && exit 4' } } }),
      }),
    );
    assert.equal(bad.status, 'failed');
    assert.match(
      bad.details.error ?? '',
      /^v2 did not roll out: predeploy \(echo nope && exit 4\) exited with code 4; last output: nope; no unit of v2 started/,
    );
    // The release phase after it never ran.
    assert.doesNotMatch(await linesOfLatest('predeploy'), /^release: /m);
    assert.equal(await get('predeploy', '/'), 'serving v1');
    assert.equal(await get('predeploy', '/journal'), 'none');
  });
});
