import { readdir } from 'node:fs/promises';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { sniffArchive } from './archive-format.js';
import { BundleWriter } from './bundle-writer.js';
import { compileBundleLimits, type BundleLimits } from './limits.js';
import { extractTar } from './tar.js';
import { extractZip } from './zip.js';

export interface ExtractBundleOptions {
  /** The uploaded archive: zip, tar.gz or tar, whatever its name says. */
  readonly archivePath: string;
  /** An empty directory the caller made; on failure it is left empty again. */
  readonly destination: string;
  /** Overrides of DEFAULT_BUNDLE_LIMITS. */
  readonly limits?: Partial<BundleLimits> | undefined;
}

export interface ExtractedBundle {
  /** Regular files written (directories not counted). */
  readonly fileCount: number;
  /** Bytes written, counted as written. */
  readonly totalBytes: number;
}

/**
 * Extracts a bundle into `destination`, refusing with BundleError anything unsafe or
 * malformed: an unknown format, a damaged archive, paths that escape, links, devices,
 * duplicates, encrypted entries, and bundles over the limits (checked as bytes are written).
 * On any failure the destination is emptied before the error is thrown.
 */
export async function extractBundle(options: ExtractBundleOptions): Promise<ExtractedBundle> {
  const limits = compileBundleLimits(options.limits);
  const { archivePath, destination } = options;
  // Checked first: on failure the destination is emptied, which must never remove the
  // caller's own files.
  if ((await readdir(destination)).length > 0) {
    throw new Error(
      `extractBundle needs an empty destination directory; ${destination} is not empty`,
    );
  }
  const archive = await sniffArchive(archivePath);
  const writer = new BundleWriter(destination, limits, archive.sizeBytes);
  try {
    if (archive.format === 'zip') {
      await extractZip(archivePath, writer, limits);
    } else {
      await extractTar(archivePath, archive.format === 'tar.gz', writer, limits, archive.sizeBytes);
    }
    await writer.finish();
    if (writer.fileCount === 0) {
      throw new BundleError(BundleErrorReasons.EMPTY_BUNDLE, 'the bundle holds no files');
    }
    return { fileCount: writer.fileCount, totalBytes: writer.totalBytes };
  } catch (error) {
    try {
      await writer.clear();
    } catch (cleanupError) {
      // Not the bundle's fault any more: the server holds a half-written destination.
      throw new Error(`could not empty ${destination} after a failed extraction`, {
        cause: new AggregateError([error, cleanupError]),
      });
    }
    throw error;
  }
}
