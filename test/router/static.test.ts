import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startTestRouter, type TestRouter } from './support/fixtures.js';

describe('builtin router: static sites', () => {
  let router: TestRouter;
  let base: string;
  const host = 'site.localhost';

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-static-'));
    const root = path.join(base, 'site');
    await mkdir(path.join(root, 'docs'), { recursive: true });
    await writeFile(path.join(root, 'index.html'), '<h1>home</h1>');
    await writeFile(path.join(root, 'style.css'), 'body{}');
    await writeFile(path.join(root, 'app.js'), 'let a = 1;');
    await writeFile(path.join(root, 'logo.svg'), '<svg/>');
    await writeFile(path.join(root, 'docs', 'index.html'), '<h1>docs</h1>');
    await writeFile(path.join(root, '.env'), 'SECRET=1');
    await writeFile(path.join(base, 'outside.txt'), 'outside the root');
    await symlink(path.join(base, 'outside.txt'), path.join(root, 'escape.txt'));
    await symlink(base, path.join(root, 'up'));
    await symlink(path.join(root, 'style.css'), path.join(root, 'alias.css'));
    router = await startTestRouter();
    await router.put([{ app: 'site', hosts: [host], target: { kind: 'static', root } }]);
  });
  after(async () => {
    await router.close();
    await rm(base, { recursive: true, force: true });
  });

  it('serves index.html for directories and content types by extension', async () => {
    const home = await request(router.port, host);
    assert.equal(home.status, 200);
    assert.equal(home.body, '<h1>home</h1>');
    assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');
    assert.ok(home.headers['x-request-id']);
    assert.equal((await request(router.port, host, { path: '/docs/' })).body, '<h1>docs</h1>');
    const redirect = await request(router.port, host, { path: '/docs?x=1' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/docs/?x=1');
    assert.equal(
      (await request(router.port, host, { path: '/style.css' })).headers['content-type'],
      'text/css; charset=utf-8',
    );
    assert.equal(
      (await request(router.port, host, { path: '/app.js' })).headers['content-type'],
      'text/javascript; charset=utf-8',
    );
    assert.equal(
      (await request(router.port, host, { path: '/logo.svg' })).headers['content-type'],
      'image/svg+xml',
    );
    assert.equal(
      (await request(router.port, host, { path: '/alias.css' })).body,
      'body{}',
      'a symlink inside the root is fine',
    );
    const head = await request(router.port, host, { method: 'HEAD', path: '/style.css' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '6');
    assert.equal(head.body, '');
  });

  it('refuses traversal (plain and percent-encoded), dot files and symlinks out of the root', async () => {
    for (const p of [
      '/../outside.txt',
      '/docs/../../outside.txt',
      '/%2e%2e/outside.txt',
      '/%2E%2E%2Foutside.txt',
      '/docs/%2e%2e/%2e%2e/outside.txt',
      '/..%5coutside.txt',
      '/.env',
      '/%2eenv',
      '/escape.txt',
      '/up/outside.txt',
      '/missing.html',
      '/%zz',
      '/a%00b',
    ]) {
      const res = await request(router.port, host, { path: p });
      assert.equal(res.status, 404, `${p} → ${res.status}`);
      assert.doesNotMatch(res.body, /outside the root|SECRET/);
    }
  });

  it('answers 304 to a current ETag or If-Modified-Since, and 405 to other methods', async () => {
    const first = await request(router.port, host, { path: '/style.css' });
    const etag = first.headers.etag!;
    assert.ok(etag);
    assert.ok(first.headers['last-modified']);
    const cached = await request(router.port, host, {
      path: '/style.css',
      headers: { 'if-none-match': etag },
    });
    assert.equal(cached.status, 304);
    assert.equal(cached.body, '');
    const since = await request(router.port, host, {
      path: '/style.css',
      headers: { 'if-modified-since': String(first.headers['last-modified']) },
    });
    assert.equal(since.status, 304);
    const stale = await request(router.port, host, {
      path: '/style.css',
      headers: { 'if-none-match': 'W/"0-0"' },
    });
    assert.equal(stale.status, 200);
    const post = await request(router.port, host, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });
});
