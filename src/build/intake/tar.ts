import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote, visible } from '../quote.js';
import { looksLikeTar } from './archive-format.js';
import { entryRatioGuard, isSystemError, type BundleWriter } from './bundle-writer.js';
import { normaliseEntryPath } from './entry-path.js';
import { checkExtendedHeader } from './tar-extended-header.js';
import { TarEntryQueue } from './tar-entry-queue.js';
import { describeBytes, type BundleLimits } from './limits.js';

/**
 * Room for what a tar stream holds besides file contents (512-byte headers, padding, pax
 * records), on top of maxTotalBytes: 20,000 entries with long pax names fit easily.
 */
const TAR_FRAMING_ALLOWANCE = 64 * 1024 * 1024;

/**
 * gzip has no per-entry compressed size, so an entry's share of the input is estimated as the
 * input the decompressor consumed while the entry was written. Data buffered between the
 * decompressor and the file means part of an entry may be consumed before the entry begins;
 * this slack, added to the estimate, covers that so an ordinary file is not refused, at the
 * cost of letting any entry reach ratio × slack (12.8 MiB by default) before the check bites.
 */
const GZIP_ESTIMATE_SLACK = 64 * 1024;

const SPECIAL_TYPES: Readonly<Record<string, string>> = {
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO',
};

/**
 * Extracts a tar or tar.gz archive through `writer`. node-tar's Parser only parses; every
 * file is written here, one entry at a time, so the limits and checks see every byte.
 */
export async function extractTar(
  archivePath: string,
  compressed: boolean,
  writer: BundleWriter,
  limits: BundleLimits,
  archiveBytes: number,
): Promise<void> {
  const gunzip = compressed ? createGunzip() : undefined;
  const parser = new Parser({ strict: true });
  const entries = new TarEntryQueue();
  parser.on('entry', (entry: ReadEntry) => entries.push(entry));
  parser.on('ignoredEntry', (entry: ReadEntry) => entries.fail(ignoredEntryError(entry)));
  // Emitted with the header's raw text before the entry it describes.
  parser.on('meta', (text: string) => {
    try {
      checkExtendedHeader(text);
    } catch (error) {
      entries.fail(error);
    }
  });
  parser.on('error', (error: Error) => entries.fail(parserError(error, compressed)));
  parser.on('end', () => entries.close());
  let sawEndOfArchive = false;
  parser.on('eof', () => {
    sawEndOfArchive = true;
  });

  const stop = new AbortController();
  const streamLimit = limits.maxTotalBytes + TAR_FRAMING_ALLOWANCE;
  const ratioLimit = compressed
    ? Math.max(limits.ratioThresholdBytes, limits.maxCompressionRatio * archiveBytes)
    : Infinity;

  /** Feeds the (decompressed) tar stream to the parser, honouring its backpressure. */
  async function feed(source: AsyncIterable<Buffer>): Promise<void> {
    try {
      await feedParser(source);
    } catch (error) {
      // Reported here: pipeline() may reject with the AbortError of tearing the streams down
      // instead of this, the cause.
      entries.fail(streamError(error));
      throw error;
    }
  }

  async function feedParser(source: AsyncIterable<Buffer>): Promise<void> {
    let streamBytes = 0;
    // The first block of a gzip stream's contents, held until it shows the tar magic.
    let head: Buffer | undefined = compressed ? Buffer.alloc(0) : undefined;
    for await (const chunk of source) {
      streamBytes += chunk.length;
      if (streamBytes > streamLimit) {
        throw new BundleError(
          BundleErrorReasons.TOO_LARGE,
          `the bundle expands to more than ${describeBytes(limits.maxTotalBytes)}, the most a bundle may hold`,
        );
      }
      if (streamBytes > ratioLimit) {
        throw new BundleError(
          BundleErrorReasons.COMPRESSION_RATIO,
          `the bundle expands to more than ${limits.maxCompressionRatio} times its size ` +
            `(${describeBytes(archiveBytes)}); it looks like a zip bomb`,
        );
      }
      // After the end-of-archive blocks the parser would only buffer what it is given; the
      // rest of the stream is read (and counted) so that gzip verifies its checksum.
      if (sawEndOfArchive) continue;
      let data = chunk;
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 512) continue;
        if (!looksLikeTar(head)) throw notTarInside();
        data = head;
        head = undefined;
      }
      if (!parser.write(data)) await once(parser, 'drain', { signal: stop.signal });
    }
    if (head !== undefined) {
      // Less than one block in all: a cut-off tar, or something else gzip-compressed.
      if (!looksLikeTar(head)) throw notTarInside();
      parser.write(head);
    }
    parser.end();
  }

  const file = createReadStream(archivePath);
  const feeding = (
    gunzip
      ? pipeline(file, gunzip, feed, { signal: stop.signal })
      : pipeline(file, feed, { signal: stop.signal })
  ).catch((error: unknown) => {
    if (!stop.signal.aborted) entries.fail(streamError(error));
  });

  try {
    for (let entry = await entries.next(); entry; entry = await entries.next()) {
      await extractEntry(entry, writer, limits, gunzip, entries);
    }
  } finally {
    stop.abort();
    await feeding;
  }
}

async function extractEntry(
  entry: ReadEntry,
  writer: BundleWriter,
  limits: BundleLimits,
  gunzip: Gunzip | undefined,
  entries: TarEntryQueue,
): Promise<void> {
  const name = entry.path;
  const quoted = quote(name);
  const path = normaliseEntryPath(name);
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      break;
    case 'Directory':
      writer.claim(path, name, 'directory');
      entry.resume();
      await writer.writeDirectory(path);
      return;
    case 'SymbolicLink':
      throw new BundleError(
        BundleErrorReasons.LINK_ENTRY,
        `entry ${quoted} is a symbolic link (to ${quote(entry.linkpath ?? '')}); bundles may not contain links of any kind (replace it with a copy of its target)`,
      );
    case 'Link':
      throw new BundleError(
        BundleErrorReasons.LINK_ENTRY,
        `entry ${quoted} is a hard link (to ${quote(entry.linkpath ?? '')}); bundles may not contain links of any kind (replace it with a copy of its target)`,
      );
    default:
      throw new BundleError(
        BundleErrorReasons.SPECIAL_ENTRY,
        `entry ${quoted} is ${SPECIAL_TYPES[entry.type] ?? `an unsupported tar entry (${entry.type})`}; bundles may contain only regular files and directories`,
      );
  }
  writer.claim(path, name, 'file');
  // A hint only (the writer counts real bytes), but an honest header lets us refuse at once.
  if (entry.size > limits.maxFileBytes) {
    throw new BundleError(
      BundleErrorReasons.FILE_TOO_LARGE,
      `entry ${quoted} is larger than ${describeBytes(limits.maxFileBytes)}, the largest file a bundle may hold`,
    );
  }
  let guard;
  if (gunzip) {
    const consumedAtStart = gunzip.bytesWritten;
    guard = entryRatioGuard(
      name,
      limits,
      () => gunzip.bytesWritten - consumedAtStart + GZIP_ESTIMATE_SLACK,
    );
  }
  await writer.writeFile({
    path,
    name,
    executable: ((entry.mode ?? 0) & 0o111) !== 0,
    chunks: entries.body(entry),
    ...(guard ? { guard } : {}),
  });
}

function notTarInside(): BundleError {
  return new BundleError(
    BundleErrorReasons.NOT_AN_ARCHIVE,
    'the bundle is gzip-compressed but does not hold a tar archive',
  );
}

function ignoredEntryError(entry: ReadEntry): BundleError {
  if (entry.meta) {
    return new BundleError(
      BundleErrorReasons.CORRUPT_ARCHIVE,
      `the tar archive has an extended header larger than 1 MiB before entry ${quote(entry.path)}`,
    );
  }
  return new BundleError(
    BundleErrorReasons.SPECIAL_ENTRY,
    `entry ${quote(entry.path)} is an unsupported tar entry (${entry.type}); bundles may contain only regular files and directories`,
  );
}

/** The parser's complaints (strict mode turns every warning into an error). */
function parserError(error: Error, compressed: boolean): unknown {
  if (isSystemError(error)) return error;
  const detail = visible(error.message);
  return new BundleError(
    BundleErrorReasons.CORRUPT_ARCHIVE,
    `the ${compressed ? 'tar.gz' : 'tar'} archive is damaged or truncated (${detail})`,
  );
}

/** Errors of reading or decompressing the archive. */
function streamError(error: unknown): unknown {
  if (error instanceof BundleError || isSystemError(error) || !(error instanceof Error)) {
    return error;
  }
  // zlib: "unexpected end of file", "incorrect header check", "invalid block type", …
  const detail = visible(error.message);
  return new BundleError(
    BundleErrorReasons.CORRUPT_ARCHIVE,
    `the gzip data of the bundle is damaged or truncated (${detail})`,
  );
}
