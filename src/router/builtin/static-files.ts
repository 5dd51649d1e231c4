import { realpath, stat } from 'node:fs/promises';
import { openInside } from './open-inside.js';
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { sendErrorPage } from './error-pages.js';
import { isPublishedAtTop, publishedRoot, type PublishedRoot } from './static-root.js';

/** Content types of the files a static site is made of; anything else is a download. */
const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.webmanifest': 'application/manifest+json',
});

/**
 * The file a URL path names inside the published root, or undefined when it names nothing
 * servable: a `..` or dot-file segment (also when percent-encoded), a NUL, a backslash, a
 * manifest or script at the top of a bundle served whole, or a path whose real location
 * (symlinks resolved) is outside the root's real location.
 */
async function resolveInside(
  published: PublishedRoot,
  urlPath: string,
): Promise<string | undefined> {
  const root = published.dir;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  // Dot files (.env, .git) are never served, and `..` never climbs.
  if (segments.some((s) => s.startsWith('.'))) return undefined;
  const top = segments[0];
  if (published.wholeBundle && top !== undefined && !isPublishedAtTop(top)) return undefined;
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(path.join(realRoot, ...segments));
  } catch {
    return undefined;
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return undefined;
  // A link inside the root to a held-back name (site.json -> berth.json) is held back too.
  const realTop = path.relative(realRoot, real).split(path.sep)[0];
  if (published.wholeBundle && realTop && !isPublishedAtTop(realTop)) return undefined;
  return real;
}

function etagOf(info: Stats): string {
  return `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
}

/** True when the client's cached copy (If-None-Match, else If-Modified-Since) is current. */
function notModified(req: IncomingMessage, etag: string, info: Stats): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.split(',').some((tag) => {
      const t = tag.trim();
      return t === '*' || t === etag || `W/${t}` === etag;
    });
  }
  const since = req.headers['if-modified-since'];
  if (since === undefined) return false;
  const time = Date.parse(since);
  return !Number.isNaN(time) && Math.floor(info.mtimeMs / 1000) * 1000 <= time;
}

/**
 * Serves a static site's file for GET and HEAD: `index.html` for a directory, a content type
 * by extension, an ETag and Last-Modified with 304s, streamed from disk. Only what the site
 * publishes is served (see publishedRoot): its public/, dist/ or build/ folder or the folder
 * berth.json names, else the bundle without its manifests, scripts and dot files.
 */
export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  requestId: string,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendErrorPage(res, 405, 'a static site answers GET and HEAD only', requestId, {
      allow: 'GET, HEAD',
    });
    return;
  }
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const urlPath = query >= 0 ? url.slice(0, query) : url;
  const notFound = () => sendErrorPage(res, 404, `nothing at ${urlPath}`, requestId);
  const published = await publishedRoot(root);
  let file = await resolveInside(published, urlPath);
  if (file === undefined) return notFound();
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    if (!urlPath.endsWith('/')) {
      // Relative links in the index page resolve against the directory only with the slash.
      const location = `${urlPath}/${query >= 0 ? url.slice(query) : ''}`;
      res.writeHead(301, { location, 'content-length': 0, 'x-request-id': requestId });
      res.end();
      return;
    }
    file = await resolveInside(published, `${urlPath}index.html`);
    info = file === undefined ? undefined : await stat(file).catch(() => undefined);
  }
  if (file === undefined || info === undefined || !info.isFile()) return notFound();
  // Served from the descriptor opened, once it is known to be the file that was checked.
  const opened = await openInside(file);
  if (opened === undefined) return notFound();
  const { handle } = opened;
  info = opened.info;

  const etag = etagOf(info);
  const headers = {
    etag,
    'last-modified': info.mtime.toUTCString(),
    'cache-control': 'no-cache',
    'x-request-id': requestId,
  };
  if (notModified(req, etag, info)) {
    await handle.close();
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, {
    ...headers,
    'content-type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': info.size,
  });
  if (req.method === 'HEAD' || info.size === 0) {
    await handle.close();
    res.end();
    return;
  }
  // The stream owns the handle from here and closes it when it ends or is destroyed.
  const stream = handle.createReadStream({ end: info.size - 1 });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}
