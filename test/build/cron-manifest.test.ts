// app.json and berth.json `cron` as readProject reads them: Dokku's fields, ids, berth.json
// winning per id, and a bad entry refused at upload with its JSON path.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BundleError,
  BundleErrorReasons,
  readProject,
  type Project,
} from '../../src/build/index.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-cron-manifest-'));
});
after(() => cleanup());

async function read(files: Record<string, unknown>): Promise<Project> {
  const dir = join(root, `p${++counter}`);
  await mkdir(dir);
  await writeFile(join(dir, 'Procfile'), 'web: node server.js\n');
  for (const [name, value] of Object.entries(files)) {
    await writeFile(join(dir, name), JSON.stringify(value));
  }
  return readProject(dir);
}

async function refused(files: Record<string, unknown>, reason: string, message: RegExp) {
  await assert.rejects(read(files), (error) => {
    assert.ok(error instanceof BundleError, String(error));
    assert.equal(error.reason, reason);
    assert.match(error.message, message);
    return true;
  });
}

describe('cron in the manifests', () => {
  it('reads Dokku entries with defaults and an id made from the command', async () => {
    const p = await read({
      'app.json': {
        cron: [
          { command: 'node report.js', schedule: '*/5 * * * *' },
          {
            command: 'node sweep.js',
            schedule: '@daily',
            concurrency_policy: 'forbid',
            maintenance: true,
          },
        ],
      },
    });
    assert.equal(p.cron.length, 2);
    assert.match(p.cron[0]?.id ?? '', /^c-[0-9a-f]{10}$/);
    assert.deepEqual(
      p.cron.map((e) => [e.command, e.schedule, e.concurrencyPolicy, e.maintenance]),
      [
        ['node report.js', '*/5 * * * *', 'allow', false],
        ['node sweep.js', '@daily', 'forbid', true],
      ],
    );
    assert.ok(!p.warnings.some((w) => w.includes('cron')), p.warnings.join('\n'));
    // The same command has the same id in another bundle: suspension is kept by it.
    const again = await read({
      'app.json': { cron: [{ command: 'node report.js', schedule: '0 * * * *' }] },
    });
    assert.equal(again.cron[0]?.id, p.cron[0]?.id);
  });

  it('lets berth.json win per id and keeps app.json entries of other ids', async () => {
    const p = await read({
      'app.json': {
        cron: [
          { id: 'report', command: 'node report.js', schedule: '@hourly' },
          { command: 'node sweep.js', schedule: '@daily' },
        ],
      },
      'berth.json': {
        cron: [
          {
            id: 'report',
            command: 'node report.js --fast',
            schedule: '*/10 * * * *',
            concurrency_policy: 'replace',
          },
        ],
      },
    });
    assert.deepEqual(
      p.cron.map((e) => [
        e.id.startsWith('c-') ? 'derived' : e.id,
        e.command,
        e.schedule,
        e.concurrencyPolicy,
      ]),
      [
        ['report', 'node report.js --fast', '*/10 * * * *', 'replace'],
        ['derived', 'node sweep.js', '@daily', 'allow'],
      ],
    );
  });

  it('refuses a bad schedule at its JSON path, in either file', async () => {
    await refused(
      {
        'app.json': {
          cron: [
            { command: 'a', schedule: '@daily' },
            { command: 'b', schedule: '61 * * * *' },
          ],
        },
      },
      BundleErrorReasons.APP_JSON_SCHEMA,
      /^app\.json: cron\[1\]\.schedule: schedule '61 \* \* \* \*' has '61' out of 0–59 in its minute field/,
    );
    await refused(
      { 'berth.json': { cron: [{ command: 'a', schedule: '* * * *' }] } },
      BundleErrorReasons.BERTH_JSON_SCHEMA,
      /^berth\.json: cron\[0\]\.schedule: .*has 4 field/,
    );
  });

  it('refuses wrong types, policies, repeated ids; berth.json refuses unknown fields', async () => {
    await refused(
      { 'app.json': { cron: [{ command: 'a', schedule: '@daily', concurrency_policy: 'queue' }] } },
      BundleErrorReasons.APP_JSON_SCHEMA,
      /cron\[0\]\.concurrency_policy must be one of allow, forbid, replace; got 'queue'/,
    );
    await refused(
      { 'app.json': { cron: [{ command: 'a', schedule: '@daily', maintenance: 'yes' }] } },
      BundleErrorReasons.APP_JSON_SCHEMA,
      /cron\[0\]\.maintenance must be a boolean; got a string/,
    );
    await refused(
      {
        'app.json': {
          cron: [
            { command: 'a', schedule: '@daily' },
            { command: 'a', schedule: '@hourly' },
          ],
        },
      },
      BundleErrorReasons.APP_JSON_SCHEMA,
      /cron\[1\] repeats the id/,
    );
    await refused(
      { 'app.json': { cron: { command: 'a' } } },
      BundleErrorReasons.APP_JSON_SCHEMA,
      /cron must be an array; got an object/,
    );
    await refused(
      { 'berth.json': { cron: [{ command: 'a', schedule: '@daily', every: 5 }] } },
      BundleErrorReasons.BERTH_JSON_UNKNOWN_FIELD,
      /unknown field 'cron\[0\]\.every'/,
    );
    const lenient = await read({
      'app.json': { cron: [{ command: 'a', schedule: '@daily', every: 5 }] },
    });
    assert.ok(
      lenient.warnings.some((w) => w.includes("'cron[0].every'")),
      lenient.warnings.join('\n'),
    );
  });
});
