// The deploy's ignore-file matcher: gitignore's common rules, and the file list a directory
// packs to (nested .gitignore files, .berthignore, never .git/).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { IgnoreMatcher, listBundleFiles, parseIgnoreFile } from '../../src/cli/client/index.js';

function matcher(text: string): IgnoreMatcher {
  return new IgnoreMatcher(parseIgnoreFile(text));
}

describe('ignore-file matcher', () => {
  it('skips comments and blank lines, and matches a bare name at any depth', () => {
    const m = matcher('# a comment\n\n   \nsecret.txt\n');
    assert.equal(m.ignores('secret.txt', false), true);
    assert.equal(m.ignores('deep/down/secret.txt', false), true);
    assert.equal(m.ignores('secret.txt.bak', false), false);
    assert.equal(m.ignores('# a comment', false), false);
  });

  it('* and ? stay inside one path segment', () => {
    const m = matcher('*.log\nbuild-?\n');
    assert.equal(m.ignores('app.log', false), true);
    assert.equal(m.ignores('logs/app.log', false), true);
    assert.equal(m.ignores('app.log.txt', false), false);
    assert.equal(m.ignores('build-1', true), true);
    assert.equal(m.ignores('build-12', true), false);
    const anchored = matcher('src/*.js\n');
    assert.equal(anchored.ignores('src/a.js', false), true);
    assert.equal(anchored.ignores('src/lib/a.js', false), false);
  });

  it('** matches any number of directories', () => {
    const m = matcher('**/cache\nlogs/**\na/**/z.txt\n');
    assert.equal(m.ignores('cache', true), true);
    assert.equal(m.ignores('x/y/cache', true), true);
    assert.equal(m.ignores('logs/today/x.log', false), true);
    assert.equal(m.ignores('logs', true), false);
    assert.equal(m.ignores('a/z.txt', false), true);
    assert.equal(m.ignores('a/b/c/z.txt', false), true);
    assert.equal(m.ignores('b/z.txt', false), false);
  });

  it('a leading / anchors to the root, a trailing / matches only directories', () => {
    const m = matcher('/only-root.txt\ntmp/\n');
    assert.equal(m.ignores('only-root.txt', false), true);
    assert.equal(m.ignores('sub/only-root.txt', false), false);
    assert.equal(m.ignores('tmp', true), true);
    assert.equal(m.ignores('tmp', false), false);
    assert.equal(m.ignores('sub/tmp', true), true);
    assert.equal(m.ignores('tmp/file', false), true, 'inside an ignored directory');
  });

  it('! re-includes, the last match wins, and not inside an excluded directory', () => {
    const m = matcher('*.env\n!example.env\nbuild/\n!build/keep.txt\n');
    assert.equal(m.ignores('prod.env', false), true);
    assert.equal(m.ignores('example.env', false), false);
    assert.equal(m.ignores('build/keep.txt', false), true, 'git cannot re-include under build/');
    const order = matcher('!a.txt\na.txt\n');
    assert.equal(order.ignores('a.txt', false), true);
  });

  it('escapes \\# and \\! and bracket classes', () => {
    const m = matcher('\\#notes\n\\!bang\n[abc].txt\nfile[!0-9]\n');
    assert.equal(m.ignores('#notes', false), true);
    assert.equal(m.ignores('!bang', false), true);
    assert.equal(m.ignores('b.txt', false), true);
    assert.equal(m.ignores('d.txt', false), false);
    assert.equal(m.ignores('filex', false), true);
    assert.equal(m.ignores('file1', false), false);
  });

  it('always leaves .git out', () => {
    const m = matcher('');
    assert.equal(m.ignores('.git', true), true);
    assert.equal(m.ignores('.git/config', false), true);
    assert.equal(m.ignores('.gitignore', false), false);
  });

  it('rules of a nested .gitignore apply below its directory only', () => {
    const m = new IgnoreMatcher([...parseIgnoreFile('/local.txt\n', 'sub')]);
    assert.equal(m.ignores('sub/local.txt', false), true);
    assert.equal(m.ignores('local.txt', false), false);
    assert.equal(m.ignores('other/sub/local.txt', false), false);
  });
});

describe('files a deploy packs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-ignore-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content = 'x') => {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  };

  it('applies .gitignore (root and nested) then .berthignore, never .git/', async () => {
    write('.gitignore', 'node_modules/\n*.log\n.env\n');
    write('.berthignore', 'docs/\n!keep.log\n');
    write('.git/HEAD', 'ref: refs/heads/main\n');
    write('server.js');
    write('keep.log');
    write('debug.log');
    write('.env', 'SECRET=1');
    write('node_modules/x/index.js');
    write('docs/guide.md');
    write('lib/.gitignore', 'generated.js\n');
    write('lib/generated.js');
    write('lib/used.js');
    const { files } = await listBundleFiles(dir);
    assert.deepEqual(files, [
      '.berthignore',
      '.gitignore',
      'keep.log',
      'lib/.gitignore',
      'lib/used.js',
      'server.js',
    ]);
  });
});
