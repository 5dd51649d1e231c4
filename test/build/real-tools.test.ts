// Bundles made by the tools people actually use: git archive, GNU tar and Info-ZIP's zip.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BundleError, extractBundle, readProject } from '../../src/build/index.js';
import { shellCommand } from '../../src/domain/releases/index.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

const LONG_DIR = `deep/${'very-long-directory-name-'.repeat(6)}`;

/** A small node app with an executable script and a path longer than 100 bytes. */
async function app(): Promise<string> {
  const dir = join(root, `app-${++counter}`);
  await mkdir(join(dir, 'src'), { recursive: true });
  await mkdir(join(dir, LONG_DIR), { recursive: true });
  await writeFile(join(dir, 'package.json'), '{"scripts":{"start":"node src/server.js"}}');
  await writeFile(join(dir, 'src/server.js'), 'console.log("hello")\n');
  await writeFile(join(dir, 'bin-run'), '#!/bin/sh\nexec npm start\n');
  await chmod(join(dir, 'bin-run'), 0o755);
  await writeFile(join(dir, LONG_DIR, 'file-with-a-long-name.txt'), 'deep');
  await writeFile(join(dir, 'Procfile'), 'web: ./bin-run\n');
  return dir;
}

async function extract(archivePath: string): Promise<string> {
  const destination = join(root, `out-${++counter}`);
  await mkdir(destination);
  await extractBundle({ archivePath, destination });
  return destination;
}

async function assertApp(dir: string): Promise<void> {
  assert.equal(await readFile(join(dir, 'src/server.js'), 'utf8'), 'console.log("hello")\n');
  assert.equal(await readFile(join(dir, LONG_DIR, 'file-with-a-long-name.txt'), 'utf8'), 'deep');
  assert.equal((await stat(join(dir, 'bin-run'))).mode & 0o777, 0o755);
  const project = await readProject(dir);
  assert.equal(project.stack, 'node');
  assert.deepEqual(project.processes, { web: shellCommand('./bin-run') });
}

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-tools-'));
});
after(() => cleanup());

describe('bundles made by real tools', () => {
  it('git archive, as tar.gz (with its pax global header) and as zip', async () => {
    const dir = await app();
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', dir, '-c', 'user.email=t@e', '-c', 'user.name=t', ...args]);
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'init');
    for (const format of ['tar.gz', 'zip']) {
      const archive = join(root, `git-${++counter}.${format}`);
      git('archive', `--format=${format}`, '-o', archive, 'HEAD');
      await assertApp(await extract(archive));
    }
  });

  it('git archive of a repository with a symbolic link is refused, naming the link', async () => {
    const dir = await app();
    await symlink('src/server.js', join(dir, 'server.js'));
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', dir, '-c', 'user.email=t@e', '-c', 'user.name=t', ...args]);
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'init');
    for (const format of ['tar.gz', 'zip']) {
      const archive = join(root, `git-${++counter}.${format}`);
      git('archive', `--format=${format}`, '-o', archive, 'HEAD');
      const destination = join(root, `out-${++counter}`);
      await mkdir(destination);
      await assert.rejects(extractBundle({ archivePath: archive, destination }), (error) => {
        assert.ok(error instanceof BundleError);
        assert.equal(error.reason, 'LINK_ENTRY');
        assert.match(error.message, /entry 'server\.js' is a symbolic link/);
        return true;
      });
      assert.deepEqual(await readdir(destination), []);
    }
  });

  it('GNU tar (czf, and plain cf)', async () => {
    const dir = await app();
    for (const flags of ['czf', 'cf']) {
      const archive = join(root, `gnu-${++counter}`);
      execFileSync('tar', ['-C', dir, `-${flags}`, archive, '.']);
      await assertApp(await extract(archive));
    }
  });

  it("Info-ZIP's zip -r", async () => {
    const dir = await app();
    const archive = join(root, `infozip-${++counter}.zip`);
    execFileSync('zip', ['-qr', archive, '.'], { cwd: dir });
    await assertApp(await extract(archive));
  });
});
