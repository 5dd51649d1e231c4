import assert from 'node:assert/strict';
import {
  chmod,
  cp,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACT_ID_PATTERN, ArtifactStore } from '../../src/build/index.js';
import { InputError } from '../../src/errors/index.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-artifacts-'));
});
after(() => cleanup());

/** A new, not yet existing store root. */
function storeRoot(): string {
  return join(root, `store-${++counter}`);
}

/** A source tree: a trailing '/' makes an (empty) directory. */
async function sourceTree(files: Record<string, string>): Promise<string> {
  const dir = join(root, `src-${++counter}`);
  await mkdir(dir);
  for (const [name, contents] of Object.entries(files)) {
    const full = join(dir, name);
    if (name.endsWith('/')) {
      await mkdir(full, { recursive: true });
    } else {
      await mkdir(join(full, '..'), { recursive: true });
      await writeFile(full, contents);
    }
  }
  return dir;
}

const APP = {
  'package.json': '{"name":"app"}',
  'src/index.js': 'console.log("hi")\n',
  'src/lib/util.js': 'export const x = 1;\n',
  'public/': '',
};

describe('ArtifactStore', () => {
  it('stores a copy of a tree under its content digest, read-only', async () => {
    const store = new ArtifactStore({ root: storeRoot() });
    const source = await sourceTree(APP);
    await writeFile(join(source, 'run'), '#!/bin/sh\n');
    await chmod(join(source, 'run'), 0o755);
    const stored = await store.put(source);
    assert.match(stored.id, ARTIFACT_ID_PATTERN);
    assert.equal(stored.created, true);
    assert.equal(stored.fileCount, 4);
    assert.equal(stored.sizeBytes, 14 + 18 + 20 + 10);
    const copy = store.path(stored.id);
    assert.equal(await readFile(join(copy, 'src/lib/util.js'), 'utf8'), APP['src/lib/util.js']);
    assert.ok((await stat(join(copy, 'public'))).isDirectory(), 'empty directories are kept');
    assert.equal((await stat(join(copy, 'run'))).mode & 0o777, 0o555);
    assert.equal((await stat(join(copy, 'package.json'))).mode & 0o777, 0o444);
    assert.equal(await store.has(stored.id), true);
    assert.deepEqual(await store.list(), [stored.id]);
  });

  it('stores unchanged content once, wherever it comes from and whatever its times', async () => {
    const store = new ArtifactStore({ root: storeRoot() });
    const source = await sourceTree(APP);
    const first = await store.put(source);
    const second = await store.put(source);
    assert.deepEqual(second, { ...first, created: false });

    const elsewhere = join(root, `copy-${++counter}`);
    await cp(source, elsewhere, { recursive: true });
    await utimes(join(elsewhere, 'package.json'), 1, 1);
    await chmod(join(elsewhere, 'package.json'), 0o600); // not an exec-bit change
    assert.deepEqual(await store.put(elsewhere), { ...first, created: false });
    assert.deepEqual(await store.list(), [first.id]);
  });

  it('gives different content a different id', async () => {
    const store = new ArtifactStore({ root: storeRoot() });
    const base = (await store.put(await sourceTree(APP))).id;
    const variants: Record<string, string>[] = [
      { ...APP, 'src/index.js': 'console.log("hi!")\n' }, // one byte more
      { ...APP, 'src/index.js': 'console.log("ho")\n' }, // same size, other byte
      Object.fromEntries(Object.entries(APP).map(([k, v]) => [k.replace('util', 'utils'), v])), // a rename
      { ...APP, 'extra/': '' }, // an empty directory more
      Object.fromEntries(Object.entries(APP).filter(([k]) => k !== 'public/')), // one fewer
      { ...APP, 'a/b': 'c' },
      { ...APP, 'a/bc': '' }, // same bytes as a/b + "c", framed differently
    ];
    const ids = new Set([base]);
    for (const variant of variants) ids.add((await store.put(await sourceTree(variant))).id);
    assert.equal(ids.size, variants.length + 1);

    const executable = await sourceTree(APP);
    await chmod(join(executable, 'package.json'), 0o755);
    const withExec = await store.put(executable);
    assert.ok(!ids.has(withExec.id), 'the executable bit is part of the content');
  });

  it('keeps symbolic links as links, never following them', async () => {
    const store = new ArtifactStore({ root: storeRoot() });
    const source = await sourceTree({ 'real.txt': 'x' });
    await symlink('real.txt', join(source, 'link'));
    await symlink('/etc/hostname', join(source, 'outside'));
    const stored = await store.put(source);
    assert.equal(stored.fileCount, 1);
    assert.equal(await readlink(join(store.path(stored.id), 'link')), 'real.txt');
    assert.equal(await readlink(join(store.path(stored.id), 'outside')), '/etc/hostname');

    const retargeted = await sourceTree({ 'real.txt': 'x' });
    await symlink('other.txt', join(retargeted, 'link'));
    await symlink('/etc/hostname', join(retargeted, 'outside'));
    assert.notEqual((await store.put(retargeted)).id, stored.id);
  });

  it('stores an empty tree', async () => {
    const store = new ArtifactStore({ root: storeRoot() });
    const stored = await store.put(await sourceTree({}));
    assert.deepEqual(
      { ...stored, id: 'x' },
      { id: 'x', sizeBytes: 0, fileCount: 0, created: true },
    );
    assert.deepEqual(await readdir(store.path(stored.id)), []);
  });

  it('lets concurrent puts of the same tree store it once, from one or several stores', async () => {
    const rootDir = storeRoot();
    const stores = [new ArtifactStore({ root: rootDir }), new ArtifactStore({ root: rootDir })];
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`d${i % 10}/f${i}.txt`] = `${i}`.repeat(500);
    const sources = await Promise.all([0, 1, 2].map(() => sourceTree(files)));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => stores[i % 2]!.put(sources[i % 3]!)),
    );
    const ids = new Set(results.map((r) => r.id));
    assert.equal(ids.size, 1);
    assert.equal(results.filter((r) => r.created).length, 1, 'exactly one put created it');
    assert.ok(results.every((r) => r.fileCount === 200));
    const [id] = ids;
    assert.deepEqual(await readdir(rootDir), [id], 'no temporary directory is left');
    assert.equal((await readdir(stores[0]!.path(id!), { recursive: true })).length, 210);
  });

  it('removes an artifact; a second remove says there was none', async () => {
    const rootDir = storeRoot();
    const store = new ArtifactStore({ root: rootDir });
    const { id } = await store.put(await sourceTree(APP));
    assert.equal(await store.remove(id), true);
    assert.equal(await store.has(id), false);
    assert.equal(await store.remove(id), false);
    assert.deepEqual(await readdir(rootDir), []);
    assert.deepEqual(await store.list(), []);
    const again = await store.put(await sourceTree(APP));
    assert.equal(again.id, id);
    assert.equal(again.created, true);
  });

  it('validates ids before touching the filesystem', async () => {
    const rootDir = storeRoot(); // never created: nothing may be touched
    const store = new ArtifactStore({ root: rootDir });
    const valid = 'a'.repeat(64);
    assert.equal(store.path(valid), join(rootDir, valid));
    assert.equal(await store.has(valid), false);
    assert.equal(await store.remove(valid), false);
    assert.deepEqual(await store.list(), []);
    for (const bad of [
      'A'.repeat(64),
      'a'.repeat(63),
      'a'.repeat(65),
      '../etc',
      '',
      `${'a'.repeat(63)}/`,
      '.tmp-1',
    ]) {
      assert.throws(() => store.path(bad), InputError, bad);
      await assert.rejects(store.has(bad), InputError);
      await assert.rejects(store.remove(bad), InputError);
    }
    await assert.rejects(stat(rootDir), { code: 'ENOENT' });
  });

  it('refuses a tree holding a FIFO, leaving nothing behind', async () => {
    const { execFileSync } = await import('node:child_process');
    const source = await sourceTree({ 'a.txt': 'a' });
    // coreutils' mkfifo is on every Debian machine; scripts/install-and-test.sh checks it.
    execFileSync('mkfifo', [join(source, 'pipe')]);
    const rootDir = storeRoot();
    const store = new ArtifactStore({ root: rootDir });
    await assert.rejects(store.put(source), /not a file, directory or symbolic link/);
    await assert.rejects(readdir(rootDir), { code: 'ENOENT' });
  });
});
