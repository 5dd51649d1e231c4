// App cron end to end on the process runtime, with a clock the test moves (the server's
// compiled cron.clock): app.json cron is checked at upload, a deploy makes the schedules, a
// slot runs a one-off of the live release whose exit code and output are listed, suspend
// stops runs, a run by hand starts at once, and a redeploy keeps suspension by id.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tarGzBundle, type BundleFiles } from '../support/bundles.js';
import { cli, freshConfigHome } from '../support/cli.js';
import { compiledDefaults } from '../support/compiled-defaults.js';
import { errorCode, startTestServer, type TestServer } from '../support/api.js';

let now = new Date('2026-03-01T10:00:20Z');
const clock = () => now;

const app = (cron: unknown): BundleFiles => ({
  'package.json': JSON.stringify({ name: 'cronapp', version: '1.0.0' }),
  'worker.js': 'setInterval(() => {}, 1000);\n',
  Procfile: 'worker: node worker.js\n',
  'app.json': JSON.stringify({ formation: { web: { quantity: 0 } }, cron }),
});

const REPORT = {
  command: 'echo "report for $GREETING in $(pwd)"; echo oops >&2; exit 7',
  schedule: '* * * * *',
};

describe('app cron over the API (sqlite, process runtime)', () => {
  let api: TestServer;
  let token: string;

  async function deploy(files: BundleFiles) {
    const queued = await api.request('POST', '/deployments/cronapp', {
      token,
      raw: { data: await tarGzBundle(files), contentType: 'application/gzip' },
    });
    if (queued.status !== 202) return queued;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await api.request('GET', '/deployments/cronapp', { token });
      if (response.status !== 204) return response;
      if (Date.now() > deadline) throw new Error('the deploy did not finish');
      await sleep(50);
    }
  }

  async function runs(query = '') {
    const response = await api.request('GET', `/apps/cronapp/cron/runs${query}`, { token });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as Array<Record<string, unknown>>;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  before(async () => {
    api = await startTestServer('sqlite', {
      compiled: { cron: { ...compiledDefaults.cron, checkIntervalMs: 50, clock } },
    });
    token = api.adminToken;
    assert.equal(
      (await api.request('POST', '/apps', { token, body: { name: 'cronapp' } })).status,
      201,
    );
    await api.request('PATCH', '/apps/cronapp/config', { token, body: { GREETING: 'march' } });
  });
  after(() => api?.close());

  it('refuses a bad schedule at upload with 400 and its JSON path', async () => {
    const refused = await deploy(app([REPORT, { command: 'x', schedule: '*/0 * * * *' }]));
    assert.equal(refused.status, 400);
    assert.equal(errorCode(refused), 'BUNDLE_INVALID');
    assert.match(JSON.stringify(refused.body), /app\.json: cron\[1\]\.schedule: schedule '\*\/0/);
  });

  it('runs a slot as a one-off of the live release and lists it', async () => {
    const deployed = await deploy(app([{ id: 'report', ...REPORT }]));
    assert.equal((deployed.body as { status: string }).status, 'succeeded');
    const schedules = await until('the schedules', async () => {
      const response = await api.request('GET', '/apps/cronapp/cron', { token });
      const body = response.body as Array<Record<string, unknown>>;
      return body.length > 0 ? body : undefined;
    });
    assert.deepEqual(
      schedules.map((s) => [s['id'], s['schedule'], s['concurrencyPolicy'], s['nextRunAt']]),
      [['report', '* * * * *', 'allow', '2026-03-01T10:01:00.000Z']],
    );
    now = new Date('2026-03-01T10:01:01Z');
    const [run] = await until('a finished run', async () => {
      const listed = await runs();
      return listed.length > 0 && listed[0]?.['status'] !== 'running' ? listed : undefined;
    });
    assert.ok(run);
    assert.equal(run['status'], 'failed');
    assert.equal(run['exitCode'], 7);
    assert.equal(run['trigger'], 'schedule');
    assert.equal(run['slot'], '2026-03-01T10:01:00.000Z');
    assert.equal(run['release'], 1);
    assert.match(String(run['output']), /report for march in /);
    assert.match(String(run['output']), /oops/);
    const listed = (await api.request('GET', '/apps/cronapp/cron', { token })).body as Array<
      Record<string, Record<string, unknown>>
    >;
    assert.equal(listed[0]?.['lastRun']?.['exitCode'], 7);
  });

  it('suspends and resumes a schedule, kept across a redeploy, and runs one by hand', async () => {
    const suspended = await api.request('POST', '/apps/cronapp/cron/report/suspend', { token });
    assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
    assert.equal((suspended.body as { suspended: boolean }).suspended, true);
    assert.equal((suspended.body as { nextRunAt: unknown }).nextRunAt, null);
    const before = (await runs()).length;
    now = new Date('2026-03-01T10:02:01Z');
    await sleep(300);
    assert.equal((await runs()).length, before, 'a suspended schedule does not run');

    // A redeploy that changes the entry keeps its suspension (by id).
    const redeployed = await deploy(
      app([
        { id: 'report', ...REPORT, command: 'echo v2' },
        { command: 'true', schedule: '@daily' },
      ]),
    );
    assert.equal((redeployed.body as { status: string }).status, 'succeeded');
    const after = await until('the v2 schedules', async () => {
      const body = (await api.request('GET', '/apps/cronapp/cron', { token })).body as Array<
        Record<string, unknown>
      >;
      return body.length === 2 ? body : undefined;
    });
    const report = after.find((s) => s['id'] === 'report');
    assert.equal(report?.['command'], 'echo v2');
    assert.equal(report?.['suspended'], true);
    assert.equal(report?.['release'], 2);

    const manual = await api.request('POST', '/apps/cronapp/cron/report/runs', { token });
    assert.equal(manual.status, 202, JSON.stringify(manual.body));
    assert.equal((manual.body as { trigger: string }).trigger, 'manual');
    const done = await until('the run by hand', async () => {
      const [newest] = await runs('?schedule=report&limit=1');
      return newest?.['status'] === 'succeeded' ? newest : undefined;
    });
    assert.equal(done['output'], 'v2\n');

    const resumed = await api.request('POST', '/apps/cronapp/cron/report/resume', { token });
    assert.equal((resumed.body as { nextRunAt: string }).nextRunAt, '2026-03-01T10:03:00.000Z');
    assert.equal(
      errorCode(await api.request('POST', '/apps/cronapp/cron/nope/suspend', { token })),
      'NOT_FOUND',
    );
  });

  it('lists, runs, suspends and resumes from the CLI', async () => {
    const env = { BERTH_SERVER: api.url, BERTH_TOKEN: token, XDG_CONFIG_HOME: freshConfigHome() };
    const listed = await cli(['cron', 'cronapp'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /ID\s+SCHEDULE\s+POLICY\s+STATE\s+NEXT RUN\s+LAST RUN\s+COMMAND/);
    assert.match(
      listed.stdout,
      /report\s+\* \* \* \* \*\s+allow\s+active\s+2026-03-01T10:03:00\.000Z/,
    );
    const json = await cli(['cron', 'cronapp', '--json'], { env });
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 2);
    const started = await cli(['cron', 'run', 'cronapp', 'report'], { env });
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /report started \(run [0-9a-f-]+\)/);
    const runsOut = await cli(['cron', 'runs', 'cronapp', 'report', '--json'], { env });
    assert.equal(runsOut.code, 0, runsOut.stderr);
    assert.ok(
      (JSON.parse(runsOut.stdout) as Array<{ schedule: string }>).every(
        (r) => r.schedule === 'report',
      ),
    );
    const suspended = await cli(['cron', 'suspend', 'cronapp', 'report'], { env });
    assert.equal(suspended.code, 0, suspended.stderr);
    assert.match(suspended.stdout, /cronapp report suspended/);
    assert.equal((await cli(['cron', 'resume', 'cronapp', 'report'], { env })).code, 0);
    const missing = await cli(['cron', 'run', 'cronapp', 'nope'], { env });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no cron schedule 'nope'/);
  });
});
