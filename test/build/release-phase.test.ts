// The release phase and app.json's deploy scripts as readProject reads them: a `release`
// process is kept apart from the processes and the formation (checked like one), and
// `scripts` (Heroku's postdeploy, Dokku's predeploy and postdeploy) is checked by JSON path.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BundleError, readProject, type Project } from '../../src/build/index.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-release-phase-'));
});
after(() => cleanup());

async function read(files: Record<string, string>): Promise<Project> {
  const dir = join(root, `p${++counter}`);
  await mkdir(dir);
  for (const [name, contents] of Object.entries(files)) await writeFile(join(dir, name), contents);
  return readProject(dir);
}

const PROCFILE = 'web: node server.js\nrelease: npm run migrate && echo done\n';

describe('the release phase in a Procfile or berth.json', () => {
  it('is no process and has no formation, whatever the manifests scale it to', async () => {
    const p = await read({
      Procfile: PROCFILE,
      'app.json': JSON.stringify({ formation: { release: { quantity: 2 } } }),
    });
    assert.equal(p.releaseCommand, 'npm run migrate && echo done');
    assert.deepEqual(Object.keys(p.processes), ['web']);
    assert.deepEqual(p.formation, { web: 1 });
    assert.deepEqual(p.processErrors, { web: null, release: null });
  });

  it('comes from berth.json processes too, and a bad command is its process error', async () => {
    const p = await read({
      'berth.json': JSON.stringify({ processes: { web: 'node s.js', release: '   ' } }),
    });
    assert.equal(p.releaseCommand, '   ');
    assert.equal(p.processErrors['release'], "process 'release' has an empty command");
  });

  it('is absent without a release entry', async () => {
    const p = await read({ Procfile: 'web: node server.js\n' });
    assert.equal(p.releaseCommand, undefined);
    assert.deepEqual(p.scripts, {});
  });
});

describe("app.json's scripts", () => {
  const withScripts = (scripts: unknown) =>
    read({ Procfile: PROCFILE, 'app.json': JSON.stringify({ scripts }) });

  it("reads Heroku's postdeploy and Dokku's predeploy and postdeploy, without a warning", async () => {
    const p = await withScripts({
      postdeploy: 'node seed.js',
      dokku: { predeploy: 'make assets', postdeploy: 'curl -fsS https://example.com/done' },
    });
    assert.deepEqual(p.scripts, {
      firstPostdeploy: 'node seed.js',
      predeploy: 'make assets',
      postdeploy: 'curl -fsS https://example.com/done',
    });
    assert.deepEqual(p.warnings, []);
  });

  it('takes postdeploy as {command, size}, and names what it ignores', async () => {
    const p = await withScripts({
      postdeploy: { command: 'node seed.js', size: 'standard-2x' },
      test: 'npm test',
      'pr-predestroy': 'node cleanup.js',
      dokku: { predeploy: '', other: 'x' },
    });
    assert.deepEqual(p.scripts, { firstPostdeploy: 'node seed.js' });
    assert.deepEqual(p.warnings, [
      "app.json: unknown fields 'scripts.test', 'scripts.pr-predestroy', 'scripts.postdeploy.size', 'scripts.dokku.other' ignored",
    ]);
  });

  it('refuses wrong types at upload, naming the JSON path', async () => {
    for (const [scripts, message] of [
      ['make seed', 'app.json: scripts must be an object; got a string'],
      [{ postdeploy: 3 }, 'app.json: scripts.postdeploy must be a string; got a number'],
      [{ postdeploy: {} }, 'app.json: scripts.postdeploy.command is required'],
      [{ dokku: [] }, 'app.json: scripts.dokku must be an object; got an array'],
      [
        { dokku: { predeploy: 'a\nb' } },
        'app.json: scripts.dokku.predeploy must not contain a line break or control character',
      ],
      [
        { dokku: { postdeploy: 'x'.repeat(5000) } },
        'app.json: scripts.dokku.postdeploy has 5000 characters; at most 4096 are allowed',
      ],
    ] as const) {
      await assert.rejects(withScripts(scripts), (error: unknown) => {
        assert.ok(error instanceof BundleError);
        assert.equal(error.reason, 'APP_JSON_SCHEMA');
        assert.equal(error.message, message);
        return true;
      });
    }
  });
});
