import { open, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces a file so that a crash at any point leaves either the old or the new content, never
 * a torn one: write a temporary file beside it, fsync it, rename it over, fsync the directory.
 */
export async function writeFileAtomic(file: string, content: string, mode = 0o600): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const directory = await open(path.dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
