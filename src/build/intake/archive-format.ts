import { open } from 'node:fs/promises';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';

/** The archive formats a bundle may come in, told apart by their first bytes. */
export type ArchiveFormat = 'zip' | 'tar.gz' | 'tar';

export interface SniffedArchive {
  readonly format: ArchiveFormat;
  readonly sizeBytes: number;
}

const TAR_MAGIC_OFFSET = 257;
/** "ustar" starts both the POSIX ("ustar\0") and the old GNU ("ustar  ") magic. */
export const TAR_MAGIC = Buffer.from('ustar');

/** Whether a block begins a tar archive (its first header carries the ustar magic). */
export function looksLikeTar(block: Buffer): boolean {
  return (
    block.length >= TAR_MAGIC_OFFSET + TAR_MAGIC.length &&
    block.subarray(TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + TAR_MAGIC.length).equals(TAR_MAGIC)
  );
}

/**
 * Tells the format from the content, never from a name: gzip (1f 8b), zip (a local file
 * header, or the end record of an empty zip), or a plain tar (ustar magic at offset 257).
 */
export async function sniffArchive(path: string): Promise<SniffedArchive> {
  const handle = await open(path, 'r');
  let head: Buffer;
  let sizeBytes: number;
  try {
    sizeBytes = (await handle.stat()).size;
    const buffer = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (sizeBytes === 0) {
    throw new BundleError(BundleErrorReasons.NOT_AN_ARCHIVE, 'the bundle is empty (0 bytes)');
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return { format: 'tar.gz', sizeBytes };
  const signature = head.length >= 4 ? head.readUInt32LE(0) : 0;
  if (signature === 0x04034b50 || signature === 0x06054b50) return { format: 'zip', sizeBytes };
  if (looksLikeTar(head)) return { format: 'tar', sizeBytes };
  throw new BundleError(
    BundleErrorReasons.NOT_AN_ARCHIVE,
    'the bundle is not a zip, tar.gz or tar archive',
  );
}
