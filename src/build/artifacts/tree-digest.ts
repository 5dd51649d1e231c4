import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One node of a source tree, by its '/'-separated path relative to the tree's root. */
interface TreeEntry {
  readonly path: string;
  readonly kind: 'directory' | 'file' | 'symlink';
  readonly executable: boolean;
  readonly size: number;
}

export interface TreeDigest {
  /** sha256 of the tree's canonical form, lowercase hex. */
  readonly id: string;
  readonly sizeBytes: number;
  readonly fileCount: number;
}

/** Bumped if the canonical form ever changes, so old and new ids can never collide. */
const FORMAT = 'berth-artifact-v1\n';

// Stored files are read-only: an artifact is immutable once its id names it. Directories stay
// writable for the owner so that remove() can delete the tree.
const FILE_MODE = 0o444;
const EXECUTABLE_MODE = 0o555;
const DIRECTORY_MODE = 0o755;

/**
 * Lists a tree without following links, sorted by the UTF-8 bytes of each path (so a
 * directory always comes before what it holds). Throws on anything but files, directories and
 * symbolic links: a socket or a device has no content to address.
 */
export async function listTree(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const pending = [''];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const dirent of await readdir(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? dirent.name : `${dir}/${dirent.name}`;
      const stats = await lstat(join(root, path));
      if (stats.isDirectory()) {
        entries.push({ path, kind: 'directory', executable: false, size: 0 });
        pending.push(path);
      } else if (stats.isFile()) {
        entries.push({
          path,
          kind: 'file',
          executable: (stats.mode & 0o111) !== 0,
          size: stats.size,
        });
      } else if (stats.isSymbolicLink()) {
        entries.push({ path, kind: 'symlink', executable: false, size: 0 });
      } else {
        throw new Error(`cannot store ${join(root, path)}: not a file, directory or symbolic link`);
      }
    }
  }
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/**
 * Hashes a listed tree, and copies it into `copyTo` (an empty directory) while hashing when
 * given one, so the copy is exactly what the digest covers. The canonical form is, per entry
 * in listing order: kind, path, then for a file its executable bit, its size and its bytes,
 * for a link its target; fields are NUL-separated (paths cannot hold NUL) and contents are
 * length-prefixed, so no two trees share a form. Empty directories count; other modes,
 * owners and times do not.
 */
export async function digestTree(
  root: string,
  entries: readonly TreeEntry[],
  copyTo?: string,
): Promise<TreeDigest> {
  const hash = createHash('sha256').update(FORMAT);
  let sizeBytes = 0;
  let fileCount = 0;
  for (const entry of entries) {
    const source = join(root, entry.path);
    switch (entry.kind) {
      case 'directory':
        hash.update(`d\0${entry.path}\0`);
        if (copyTo) await mkdir(join(copyTo, entry.path), { mode: DIRECTORY_MODE });
        break;
      case 'symlink': {
        const target = await readlink(source);
        hash.update(`l\0${entry.path}\0${target}\0`);
        if (copyTo) await symlink(target, join(copyTo, entry.path));
        break;
      }
      case 'file':
        hash.update(`f\0${entry.path}\0${entry.executable ? 'x' : '-'}\0${entry.size}\0`);
        await hashFile(source, entry, hash, copyTo && join(copyTo, entry.path));
        sizeBytes += entry.size;
        fileCount += 1;
        break;
    }
  }
  return { id: hash.digest('hex'), sizeBytes, fileCount };
}

async function hashFile(
  source: string,
  entry: TreeEntry,
  hash: ReturnType<typeof createHash>,
  target: string | undefined,
): Promise<void> {
  const mode = entry.executable ? EXECUTABLE_MODE : FILE_MODE;
  const output = target
    ? await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    : undefined;
  try {
    const input = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
    let bytes = 0;
    // The stream closes `input` when it ends or the loop leaves early.
    for await (const chunk of input.createReadStream() as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      // The size is already in the digest; a file that grew must not add unframed bytes.
      if (bytes > entry.size) break;
      hash.update(chunk);
      for (let offset = 0; output && offset < chunk.length;) {
        offset += (await output.write(chunk, offset, chunk.length - offset)).bytesWritten;
      }
    }
    if (bytes !== entry.size) {
      throw new Error(`${source} changed while it was being stored`);
    }
    await output?.chmod(mode);
  } finally {
    await output?.close();
  }
}
