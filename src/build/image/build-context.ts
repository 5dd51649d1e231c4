import { lstat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { c as createTar } from 'tar';
import { DEFAULT_DOCKERIGNORE } from './dockerfile.js';

/** A .dockerignore larger than this is not hand-written; it is not read for filtering. */
const DOCKERIGNORE_MAX_BYTES = 256 * 1024;

/** Writes the default .dockerignore when the app has none, for a generated Dockerfile. */
export async function ensureDockerignore(dir: string): Promise<void> {
  const file = join(dir, '.dockerignore');
  if ((await lstat(file).catch(() => undefined)) !== undefined) return;
  await writeFile(file, `${DEFAULT_DOCKERIGNORE.join('\n')}\n`, { flag: 'wx' });
}

/**
 * The build context of `dir` as a tar stream. Top-level names that .dockerignore excludes
 * are not sent at all (node_modules and .git are often most of a directory's bytes); deeper
 * patterns are left to the engine, which applies .dockerignore itself when it copies. The
 * Dockerfile named by `dockerfile` and .dockerignore are always sent, as Docker's client does,
 * and so are `folders` (context paths), whatever .dockerignore says.
 */
export async function buildContext(
  dir: string,
  dockerfile: string,
  folders: readonly string[] = [],
): Promise<Readable> {
  const ignored = await topLevelIgnore(dir);
  const alwaysSent = new Set([`./${dockerfile}`, './.dockerignore']);
  // The directories leading to the Dockerfile, sent even when ignored, but nothing else in them.
  const parents = new Set<string>();
  for (const sent of [dockerfile, ...folders]) {
    for (let at = sent.lastIndexOf('/'); at > 0; at = sent.lastIndexOf('/', at - 1)) {
      parents.add(`./${sent.slice(0, at)}`);
    }
  }
  // Folders sent whole even when ignored: the build network's settings, mounted by RUN steps.
  const sentFolders = folders.map((folder) => `./${folder}`);
  const filter = (path: string): boolean => {
    if (path === '.' || alwaysSent.has(path) || parents.has(path)) return true;
    if (sentFolders.some((folder) => path === folder || path.startsWith(`${folder}/`))) {
      return true;
    }
    const top = path.slice(2).split('/')[0] ?? '';
    if (!ignored(top)) return true;
    return false;
  };
  // A node stream in front of tar's minipass one: dockerode pipes it, and the caller can
  // destroy it when the build is stopped.
  const out = new PassThrough();
  const pack = createTar({ cwd: dir, portable: true, filter }, ['.']);
  pack.on('error', (error: unknown) => out.destroy(error as Error));
  pack.pipe(out);
  return out;
}

/**
 * A test for top-level names from .dockerignore's simple patterns (`name`, `/name`, `name/`,
 * `*.log`). A name some `!` exception could bring back is kept, for the engine to decide.
 */
async function topLevelIgnore(dir: string): Promise<(name: string) => boolean> {
  const file = join(dir, '.dockerignore');
  const info = await lstat(file).catch(() => undefined);
  if (!info?.isFile() || info.size > DOCKERIGNORE_MAX_BYTES) return () => false;
  const excludes: RegExp[] = [];
  const exceptions: RegExp[] = [];
  for (const raw of (await readFile(file, 'utf8')).split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = line
      .slice(negated ? 1 : 0)
      .trim()
      .replace(/^(\.?\/)+/, '')
      .replace(/\/+$/, '');
    if (negated) {
      // Any exception below a name keeps the name: `!build/keep.txt` needs `build` sent.
      const first = pattern.split('/')[0] ?? '';
      exceptions.push(first.includes('**') || first === '' ? /^/ : globRegExp(first));
    } else if (pattern !== '' && !/[/[\\]|\*\*/.test(pattern)) {
      excludes.push(globRegExp(pattern));
    }
  }
  return (name) => excludes.some((re) => re.test(name)) && !exceptions.some((re) => re.test(name));
}

/** A one-segment glob (`*`, `?`) as an anchored RegExp. */
function globRegExp(glob: string): RegExp {
  const source = glob
    .split('')
    .map((char) =>
      char === '*' ? '[^/]*' : char === '?' ? '[^/]' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`);
}
