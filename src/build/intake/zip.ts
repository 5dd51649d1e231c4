import { crc32 } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote, visible } from '../quote.js';
import { entryRatioGuard, isSystemError, type BundleWriter } from './bundle-writer.js';
import { normaliseEntryPath } from './entry-path.js';
import { describeBytes, type BundleLimits } from './limits.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const COMPRESSION_STORED = 0;
const COMPRESSION_DEFLATED = 8;

const SPECIAL_KINDS: Readonly<Record<number, string>> = {
  0o010000: 'a FIFO',
  0o020000: 'a character device',
  0o060000: 'a block device',
  0o140000: 'a socket',
};

/** Extracts a zip archive through `writer`, entry by entry, reading the central directory. */
export async function extractZip(
  archivePath: string,
  writer: BundleWriter,
  limits: BundleLimits,
): Promise<void> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(archivePath, {
      lazyEntries: true,
      autoClose: false,
      validateEntrySizes: true,
      strictFileNames: true,
    });
  } catch (error) {
    throw asBundleError(error);
  }
  // yauzl may report a late error (closing the file) after iteration stopped listening; it
  // must not become an uncaught 'error' event.
  zip.on('error', () => {});
  try {
    writer.checkDeclaredEntryCount(zip.entryCount);
    for await (const entry of zip.eachEntry()) {
      await extractEntry(zip, entry, writer, limits);
    }
  } catch (error) {
    throw asBundleError(error);
  } finally {
    zip.close();
  }
}

async function extractEntry(
  zip: ZipFile,
  entry: Entry,
  writer: BundleWriter,
  limits: BundleLimits,
): Promise<void> {
  const name = entry.fileName;
  const quoted = quote(name);
  const path = normaliseEntryPath(name);
  // The high 16 bits of the external attributes hold a Unix st_mode when a Unix tool made the
  // archive; zero when it did not, and then only the trailing '/' marks a directory.
  const unixMode = entry.externalFileAttributes >>> 16;
  const type = unixMode & S_IFMT;
  if (type === S_IFLNK) {
    throw new BundleError(
      BundleErrorReasons.LINK_ENTRY,
      `entry ${quoted} is a symbolic link; bundles may not contain links of any kind (replace it with a copy of its target)`,
    );
  }
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    throw new BundleError(
      BundleErrorReasons.SPECIAL_ENTRY,
      `entry ${quoted} is ${SPECIAL_KINDS[type] ?? 'a special file'}; bundles may contain only regular files and directories`,
    );
  }
  const isDirectory = name.endsWith('/') || type === S_IFDIR;
  writer.claim(path, name, isDirectory ? 'directory' : 'file');
  if (isDirectory) {
    await writer.writeDirectory(path);
    return;
  }
  if (entry.isEncrypted()) {
    throw new BundleError(
      BundleErrorReasons.ENCRYPTED_ENTRY,
      `entry ${quoted} is encrypted; bundles may not contain encrypted entries`,
    );
  }
  if (
    entry.compressionMethod !== COMPRESSION_STORED &&
    entry.compressionMethod !== COMPRESSION_DEFLATED
  ) {
    throw new BundleError(
      BundleErrorReasons.UNSUPPORTED_COMPRESSION,
      `entry ${quoted} uses zip compression method ${entry.compressionMethod}; only stored and deflated entries are supported`,
    );
  }
  // Headers are hints, never trusted for the limits (those count written bytes), but an
  // honest header that already breaks a limit lets us refuse without inflating anything.
  if (entry.uncompressedSize > limits.maxFileBytes) {
    throw new BundleError(
      BundleErrorReasons.FILE_TOO_LARGE,
      `entry ${quoted} is larger than ${describeBytes(limits.maxFileBytes)}, the largest file a bundle may hold`,
    );
  }
  const ratioGuard = entryRatioGuard(name, limits, () => entry.compressedSize);
  ratioGuard(entry.uncompressedSize);

  await writer.writeFile({
    path,
    name,
    executable: (unixMode & 0o111) !== 0,
    chunks: entryChunks(zip, entry, quoted),
    guard: ratioGuard,
  });
}

/**
 * The entry's bytes, with its CRC-32 checked at the end (yauzl checks sizes, not CRCs). The
 * stream opens only when the writer starts reading: a stream that errs before anyone listens
 * would raise an uncaught 'error'.
 */
async function* entryChunks(zip: ZipFile, entry: Entry, quoted: string) {
  const stream = await zip.openReadStreamPromise(entry);
  let crc = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    crc = crc32(chunk, crc);
    yield chunk;
  }
  if (crc !== entry.crc32) {
    throw new BundleError(
      BundleErrorReasons.CORRUPT_ARCHIVE,
      `entry ${quoted} is damaged: its contents do not match the archive's checksum`,
    );
  }
}

/**
 * Turns yauzl's and zlib's complaints into BundleErrors. yauzl refuses unsafe names itself
 * (strictFileNames) before it hands us the entry; its messages are stable and name the entry.
 */
function asBundleError(error: unknown): unknown {
  if (error instanceof BundleError || !(error instanceof Error) || isSystemError(error)) {
    return error;
  }
  const message = error.message;
  const named = (prefix: string) =>
    message.startsWith(prefix) ? quote(message.slice(prefix.length)) : undefined;
  let name: string | undefined;
  if ((name = named('invalid relative path: ')) !== undefined) {
    return new BundleError(
      BundleErrorReasons.PATH_ESCAPES,
      `entry ${name} escapes the bundle: bundle paths may not contain '..'`,
    );
  }
  if ((name = named('absolute path: ')) !== undefined) {
    return new BundleError(
      BundleErrorReasons.ABSOLUTE_PATH,
      `entry ${name} is an absolute path; bundle paths must be relative to the bundle's root`,
    );
  }
  if ((name = named('invalid characters in fileName: ')) !== undefined) {
    return new BundleError(
      BundleErrorReasons.INVALID_PATH,
      `entry ${name} contains a backslash; bundle paths must separate directories with '/'`,
    );
  }
  if (message === 'strong encryption is not supported') {
    return new BundleError(
      BundleErrorReasons.ENCRYPTED_ENTRY,
      'the bundle holds an encrypted entry; bundles may not contain encrypted entries',
    );
  }
  // Everything else is the archive's bytes: a missing end record, a bad signature, a size
  // that disagrees with its header (validateEntrySizes), a broken deflate stream.
  return new BundleError(
    BundleErrorReasons.CORRUPT_ARCHIVE,
    `the zip archive is damaged or truncated (${visible(message)})`,
  );
}
