import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openInside } from '../../src/router/index.js';
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

describe('builtin router: what a static site publishes', () => {
  let router: TestRouter;
  let base: string;

  /** Writes `files` into a new slug folder and routes `<app>.localhost` to it. */
  const site = async (app: string, files: Record<string, string>): Promise<string> => {
    const root = path.join(base, app);
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await writeFile(path.join(root, name), text);
    }
    return root;
  };
  const get = async (app: string, p: string) =>
    request(router.port, `${app}.localhost`, { path: p });

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-published-'));
    const manifests = {
      'berth.json': '{"name":"x"}',
      'app.json': '{}',
      Procfile: 'web: node x.js',
      'package.json': '{}',
      'package-lock.json': '{}',
      '.berthignore': 'drafts',
      'deploy.sh': 'rsync -a . prod:/srv',
      'node_modules/left/index.js': 'module.exports = 1',
    };
    const whole = await site('whole', {
      ...manifests,
      'index.html': '<h1>whole</h1>',
      'app.js': 'let a;',
      'docs/package.json': '{"a":"nested files are the site"}',
    });
    await symlink(path.join(whole, 'berth.json'), path.join(whole, 'site.json'));
    const pub = await site('pub', {
      ...manifests,
      'index.html': '<h1>root</h1>',
      'public/index.html': '<h1>public</h1>',
      'public/app.css': 'body{}',
      'dist/index.html': '<h1>dist</h1>',
    });
    const dist = await site('dist', { 'dist/index.html': '<h1>dist</h1>', 'README.md': 'x' });
    const configured = await site('conf', {
      'berth.json': JSON.stringify({ static: { root: 'web/out' } }),
      'web/out/index.html': '<h1>configured</h1>',
      'public/index.html': '<h1>public</h1>',
    });
    // public/ without an index.html is a folder of the site, not the site.
    const assets = await site('assets', {
      'index.html': '<h1>assets</h1>',
      'public/logo.svg': '<svg/>',
    });
    router = await startTestRouter();
    await router.put(
      [
        ['whole', whole],
        ['pub', pub],
        ['dist', dist],
        ['conf', configured],
        ['assets', assets],
      ].map(([app, root]) => ({
        app: app!,
        hosts: [`${app}.localhost`],
        target: { kind: 'static' as const, root: root! },
      })),
    );
  });
  after(async () => {
    await router.close();
    await rm(base, { recursive: true, force: true });
  });

  it('serves a bundle whole without its manifests, scripts, installed packages and dot files', async () => {
    assert.equal((await get('whole', '/')).body, '<h1>whole</h1>');
    assert.equal((await get('whole', '/app.js')).status, 200);
    assert.equal((await get('whole', '/docs/package.json')).status, 200);
    for (const p of [
      '/berth.json',
      '/app.json',
      '/Procfile',
      '/package.json',
      '/package-lock.json',
      '/.berthignore',
      '/deploy.sh',
      '/node_modules/left/index.js',
      '/BERTH.JSON',
      '/%62erth.json',
      '/site.json',
    ]) {
      const res = await get('whole', p);
      assert.equal(res.status, 404, p);
      assert.doesNotMatch(res.body, /"name":"x"|rsync/);
    }
  });

  it('serves only public/ (then dist/, build/) when it holds an index.html', async () => {
    assert.equal((await get('pub', '/')).body, '<h1>public</h1>');
    assert.equal((await get('pub', '/app.css')).status, 200);
    for (const p of ['/berth.json', '/public/index.html', '/dist/index.html', '/deploy.sh']) {
      assert.equal((await get('pub', p)).status, 404, p);
    }
    assert.equal((await get('dist', '/')).body, '<h1>dist</h1>');
    assert.equal((await get('dist', '/README.md')).status, 404);
    assert.equal((await get('assets', '/')).body, '<h1>assets</h1>');
    assert.equal((await get('assets', '/public/logo.svg')).status, 200);
  });

  it('serves the folder berth.json names as static.root', async () => {
    assert.equal((await get('conf', '/')).body, '<h1>configured</h1>');
    assert.equal((await get('conf', '/berth.json')).status, 404);
    assert.equal((await get('conf', '/public/index.html')).status, 404);
  });
});

describe('static files are served from the file that was checked (openInside)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-open-inside-'));
    await mkdir(path.join(dir, 'site', 'pages'), { recursive: true });
    await writeFile(path.join(dir, 'site', 'pages', 'a.html'), 'public page');
    await writeFile(path.join(dir, 'secret.key'), 'not for the web');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('opens a checked file, and refuses it once a folder of its path became a link out', async () => {
    const real = path.join(await realpath(dir), 'site', 'pages', 'a.html');
    const opened = await openInside(real);
    assert.ok(opened, 'the checked file opens');
    assert.equal(opened.info.size, 'public page'.length);
    await opened.handle.close();
    // What an app's one-off could do between the router's check and its open.
    await rename(path.join(dir, 'site', 'pages'), path.join(dir, 'site', 'moved'));
    await mkdir(path.join(dir, 'elsewhere'));
    await symlink(path.join(dir, 'secret.key'), path.join(dir, 'elsewhere', 'a.html'));
    await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'site', 'pages'));
    assert.equal(await openInside(real), undefined, 'the swapped path is not served');
  });
});
