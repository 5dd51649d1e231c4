import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The folders a static site publishes from, in this order, when one holds an index.html; the
 * build's stack detection knows the same list (src/build/project/stack.ts STATIC_FOLDERS).
 */
const PUBLISHED_FOLDERS = ['public', 'dist', 'build'] as const;

/**
 * What a bundle served from its root never publishes at the top: Berth's and the package
 * managers' manifests and lock files, build files, the folders of installed packages. Dot
 * files are refused everywhere, apart from this list.
 */
const UNPUBLISHED_AT_TOP = new Set([
  'berth.json',
  'app.json',
  'procfile',
  'package.json',
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'requirements.txt',
  'pyproject.toml',
  'dockerfile',
  'makefile',
  'node_modules',
]);

/** Build and deploy scripts at the top (`deploy.sh`, `build.py`) are not the site. */
const SCRIPT_AT_TOP = /\.(sh|bash|py|rb|pl|ps1|bat|cmd)$/i;

/** What of a slug the router serves: a folder, and whether the top-level rule applies. */
export interface PublishedRoot {
  readonly dir: string;
  /** True when the slug's own root is served, so its manifests and scripts are held back. */
  readonly wholeBundle: boolean;
}

/** berth.json's `static.root`, checked at upload; here only read (and kept inside the root). */
async function configuredRoot(root: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(root, 'berth.json'), 'utf8')) as {
      static?: { root?: unknown };
    };
    const folder = parsed.static?.root;
    if (typeof folder !== 'string' || folder === '') return undefined;
    const segments = folder.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.some((s) => s.startsWith('.') || s.includes('\\'))) return undefined;
    return segments.length === 0 ? undefined : path.join(root, ...segments);
  } catch {
    return undefined;
  }
}

async function isDirectory(file: string): Promise<boolean> {
  return (await lstat(file).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(file: string): Promise<boolean> {
  return (await lstat(file).catch(() => undefined))?.isFile() ?? false;
}

/**
 * The folder of a static site's slug that is its site: the one berth.json's `static.root`
 * names; else the first of public/, dist/ and build/ that holds an index.html; else the slug
 * itself, less what `isPublishedAtTop` holds back. Decided on each request (a read of a
 * missing berth.json and at most three lstat calls), so a site never serves a stale choice.
 */
export async function publishedRoot(root: string): Promise<PublishedRoot> {
  const configured = await configuredRoot(root);
  if (configured !== undefined && (await isDirectory(configured))) {
    return { dir: configured, wholeBundle: false };
  }
  for (const folder of PUBLISHED_FOLDERS) {
    const dir = path.join(root, folder);
    if (await isFile(path.join(dir, 'index.html'))) return { dir, wholeBundle: false };
  }
  return { dir: root, wholeBundle: true };
}

/** Whether a top-level name of a bundle served whole is part of the site. */
export function isPublishedAtTop(name: string): boolean {
  return !UNPUBLISHED_AT_TOP.has(name.toLowerCase()) && !SCRIPT_AT_TOP.test(name);
}
