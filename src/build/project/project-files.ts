import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';

/** A project file read with a size bound; never more than `maxBytes + 1` bytes are read. */
export type BoundedRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'not-a-file' }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'text'; readonly text: string };

/**
 * Reads `name` at the project's root as UTF-8 (a leading BOM dropped), or says why not. A
 * symbolic link counts as "not a file": extraction never makes one, and it is not followed.
 */
export async function readProjectFile(
  dir: string,
  name: string,
  maxBytes: number,
): Promise<BoundedRead> {
  let handle;
  try {
    handle = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'not-a-file' };
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) return { kind: 'not-a-file' };
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { kind: 'too-large' };
    return { kind: 'text', text: buffer.toString('utf8', 0, length).replace(/^\uFEFF/, '') };
  } finally {
    await handle.close();
  }
}

/** Whether `name` at the project's root is a regular file (links not followed). */
export async function isProjectFile(dir: string, name: string): Promise<boolean> {
  try {
    return (await lstat(join(dir, name))).isFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
