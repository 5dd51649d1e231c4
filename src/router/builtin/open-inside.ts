import { readlink, stat, open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/**
 * Opens `real`, a path whose real location was checked to be inside a static site, and makes
 * sure the file opened is that one. The router runs as the controller's user while the site's
 * folder belongs to the app, whose processes (a one-off) may swap a folder of the path for a
 * link between the check and the open: the opened descriptor's own path
 * (/proc/self/fd/N) must still be `real`, or nothing is served. Where there is no /proc, the
 * file's device and inode must match `real`'s. Undefined when it is not the same file, or not a
 * regular file.
 */
export async function openInside(
  real: string,
): Promise<{ handle: FileHandle; info: Stats } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(real, 'r');
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    const same =
      opened !== undefined
        ? opened === real
        : await stat(real).then(
            (now) => now.dev === info.dev && now.ino === info.ino,
            () => false,
          );
    if (same && info.isFile()) return { handle, info };
  } catch {
    // fall through: not served
  }
  await handle.close().catch(() => undefined);
  return undefined;
}
