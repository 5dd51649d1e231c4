import { constants } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';
import { describeBytes, type BundleLimits } from './limits.js';

type EntryKind = 'file' | 'directory';

/** Called with an entry's byte count so far, before each chunk is written; throws to stop. */
export type EntryByteGuard = (entryBytes: number) => void;

export interface FileEntry {
  /** The entry's normalised path (from normaliseEntryPath). */
  readonly path: string;
  /** The entry's name as the archive gives it, for messages. */
  readonly name: string;
  readonly executable: boolean;
  readonly chunks: AsyncIterable<Buffer>;
  /** An extra per-entry check (a format's compression-ratio estimate). */
  readonly guard?: EntryByteGuard;
}

// Modes are normalised: no setuid, setgid or sticky bit ever reaches the disk, and the only
// bit an archive decides is "executable".
const FILE_MODE = 0o644;
const EXECUTABLE_MODE = 0o755;
const DIRECTORY_MODE = 0o755;

/** Files up to this size are read whole and written in the background. */
const SMALL_FILE_BYTES = 64 * 1024;
/** Background writes at a time (so at most 16 × 64 KiB are held in memory). */
const PARALLEL_WRITES = 16;

// O_NOFOLLOW and O_EXCL: the destination starts empty and links are refused, so nothing can
// be followed or overwritten; the flags make that hold even if a check upstream is wrong.
const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes the entries of one archive into its destination and enforces everything that spans
 * entries: the entry count, duplicates and file/directory clashes, and the byte limits. Bytes
 * are counted as they are written, never taken from an archive's headers.
 */
export class BundleWriter {
  readonly #root: string;
  readonly #limits: BundleLimits;
  readonly #archiveBytes: number;
  /** Every path seen, explicit or implied by a deeper entry, and what it is. */
  readonly #kinds = new Map<string, EntryKind>();
  /** Paths an entry named itself (a directory implied first may be named later, once). */
  readonly #named = new Set<string>();
  /** Directories made on disk (with their parents), so each is made once. */
  readonly #made = new Set<string>();
  /** Background writes of small files; they never reject (failures are kept below). */
  readonly #pending = new Set<Promise<void>>();
  #backgroundFailed = false;
  #backgroundFailure: unknown;
  #entries = 0;
  #files = 0;
  #totalBytes = 0;

  constructor(root: string, limits: BundleLimits, archiveBytes: number) {
    this.#root = root;
    this.#limits = limits;
    this.#archiveBytes = archiveBytes;
  }

  get fileCount(): number {
    return this.#files;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Throws when the archive declares more entries than allowed, before any is read. */
  checkDeclaredEntryCount(count: number): void {
    if (count > this.#limits.maxEntries) this.#tooManyEntries();
  }

  /**
   * Counts one entry and claims its path (normalised; '' is the root, counted but not
   * claimed). Throws on the entry limit, a path named twice, or a file/directory clash.
   */
  claim(path: string, name: string, kind: EntryKind): void {
    this.#entries += 1;
    if (this.#entries > this.#limits.maxEntries) this.#tooManyEntries();
    if (path === '') return;
    const quoted = quote(name);
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (this.#kinds.get(parent) === 'file') {
        throw new BundleError(
          BundleErrorReasons.DUPLICATE_ENTRY,
          `entry ${quoted} needs ${quote(parent)} to be a directory, but the bundle also has a file ${quote(parent)}`,
        );
      }
      this.#kinds.set(parent, 'directory');
    }
    const known = this.#kinds.get(path);
    if (this.#named.has(path) || (known !== undefined && known !== kind)) {
      throw new BundleError(
        BundleErrorReasons.DUPLICATE_ENTRY,
        known === kind
          ? `entry ${quoted} appears more than once in the bundle`
          : `entry ${quoted} is both a file and a directory in the bundle`,
      );
    }
    this.#kinds.set(path, kind);
    this.#named.add(path);
  }

  async writeDirectory(path: string): Promise<void> {
    if (path === '' || this.#made.has(path)) return;
    await mkdir(join(this.#root, path), { recursive: true, mode: DIRECTORY_MODE });
    for (let end = path.length; end > 0; end = path.lastIndexOf('/', end - 1)) {
      this.#made.add(path.slice(0, end));
    }
  }

  /**
   * Writes one claimed file, enforcing the byte limits on each chunk as it is read, before it
   * is written. A small file is read whole and written in the background, a few at a time
   * (bundles are mostly small files, and writing them one by one leaves the disk waiting); a
   * larger one is streamed. finish() waits for the background writes.
   */
  async writeFile(entry: FileEntry): Promise<void> {
    this.#throwBackgroundFailure();
    const chunks = entry.chunks[Symbol.asyncIterator]();
    let done = false;
    try {
      const head: Buffer[] = [];
      let entryBytes = 0;
      while (entryBytes <= SMALL_FILE_BYTES) {
        const next = await chunks.next();
        if (next.done) {
          done = true;
          break;
        }
        entryBytes = this.#count(entry, entryBytes, next.value);
        head.push(next.value);
      }
      this.#files += 1;
      if (done) {
        await this.#inBackground(() => this.#writeWhole(entry, Buffer.concat(head)));
        return;
      }
      const handle = await this.#create(entry);
      try {
        for (const chunk of head) await writeAll(handle, chunk);
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
          entryBytes = this.#count(entry, entryBytes, next.value);
          await writeAll(handle, next.value);
        }
        done = true;
        await this.#finishMode(handle, entry);
      } finally {
        await handle.close();
      }
    } finally {
      // Stop the source (a zip entry's inflater) when the file was refused half-way.
      if (!done) await chunks.return?.();
    }
  }

  /** Waits for the background writes; throws the first that failed. */
  async finish(): Promise<void> {
    await Promise.all(this.#pending);
    this.#throwBackgroundFailure();
  }

  /** Removes everything written, leaving the destination empty as the caller gave it. */
  async clear(): Promise<void> {
    // A background write finishing after the removal would leave a file behind.
    await Promise.all(this.#pending);
    const names = await readdir(this.#root);
    await Promise.all(
      names.map((name) => rm(join(this.#root, name), { recursive: true, force: true })),
    );
  }

  /** Adds a chunk to the counts and checks every limit; returns the entry's new byte count. */
  #count(entry: FileEntry, entryBytes: number, chunk: Buffer): number {
    const bytes = entryBytes + chunk.length;
    this.#totalBytes += chunk.length;
    this.#checkBytes(entry.name, bytes);
    entry.guard?.(bytes);
    return bytes;
  }

  async #create(entry: FileEntry): Promise<FileHandle> {
    const slash = entry.path.lastIndexOf('/');
    await this.writeDirectory(slash < 0 ? '' : entry.path.slice(0, slash));
    try {
      return await open(join(this.#root, entry.path), CREATE_FLAGS, modeOf(entry));
    } catch (error) {
      // Only a case-insensitive filesystem gets here: 'A' and 'a' are the same file there.
      if (isErrno(error, 'EEXIST')) {
        throw new BundleError(
          BundleErrorReasons.DUPLICATE_ENTRY,
          `entry ${quote(entry.name)} appears more than once in the bundle (names differing only in case are the same file here)`,
        );
      }
      throw error;
    }
  }

  async #writeWhole(entry: FileEntry, contents: Buffer): Promise<void> {
    const handle = await this.#create(entry);
    try {
      await writeAll(handle, contents);
      await this.#finishMode(handle, entry);
    } finally {
      await handle.close();
    }
  }

  /** The umask may have cleared bits of the mode; the archive's executable bit must stay. */
  async #finishMode(handle: FileHandle, entry: FileEntry): Promise<void> {
    if (entry.executable) await handle.chmod(EXECUTABLE_MODE);
  }

  async #inBackground(task: () => Promise<void>): Promise<void> {
    while (this.#pending.size >= PARALLEL_WRITES) await Promise.race(this.#pending);
    this.#throwBackgroundFailure();
    const write: Promise<void> = task()
      .catch((error: unknown) => {
        if (!this.#backgroundFailed) {
          this.#backgroundFailed = true;
          this.#backgroundFailure = error;
        }
      })
      .finally(() => this.#pending.delete(write));
    this.#pending.add(write);
  }

  #throwBackgroundFailure(): void {
    if (this.#backgroundFailed) throw this.#backgroundFailure;
  }

  #checkBytes(name: string, entryBytes: number): void {
    const limits = this.#limits;
    if (entryBytes > limits.maxFileBytes) {
      throw new BundleError(
        BundleErrorReasons.FILE_TOO_LARGE,
        `entry ${quote(name)} is larger than ${describeBytes(limits.maxFileBytes)}, the largest file a bundle may hold`,
      );
    }
    if (this.#totalBytes > limits.maxTotalBytes) {
      throw new BundleError(
        BundleErrorReasons.TOO_LARGE,
        `the bundle expands to more than ${describeBytes(limits.maxTotalBytes)}, the most a bundle may hold`,
      );
    }
    if (
      this.#totalBytes > limits.ratioThresholdBytes &&
      this.#totalBytes > limits.maxCompressionRatio * this.#archiveBytes
    ) {
      throw new BundleError(
        BundleErrorReasons.COMPRESSION_RATIO,
        `the bundle expands to more than ${limits.maxCompressionRatio} times its size ` +
          `(${describeBytes(this.#archiveBytes)}); it looks like a zip bomb`,
      );
    }
  }

  #tooManyEntries(): never {
    throw new BundleError(
      BundleErrorReasons.TOO_MANY_ENTRIES,
      `the bundle has more than ${this.#limits.maxEntries} entries, the most a bundle may hold`,
    );
  }
}

function modeOf(entry: FileEntry): number {
  return entry.executable ? EXECUTABLE_MODE : FILE_MODE;
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length;) {
    offset += (await handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
  }
}

/** Whether `error` is a Node system error with this code. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * An error a system call raised (reading the archive, writing the destination), as opposed to
 * a parser's or decompressor's complaint about the archive's bytes. zlib errors carry an errno
 * too, but no syscall.
 */
export function isSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** The per-entry compression-ratio check, given the compressed bytes the entry has used so far. */
export function entryRatioGuard(
  name: string,
  limits: BundleLimits,
  compressedBytes: () => number,
): EntryByteGuard {
  return (entryBytes) => {
    if (entryBytes <= limits.ratioThresholdBytes) return;
    if (entryBytes > limits.maxCompressionRatio * compressedBytes()) {
      throw compressionRatioError(name, limits);
    }
  };
}

function compressionRatioError(name: string, limits: BundleLimits): BundleError {
  return new BundleError(
    BundleErrorReasons.COMPRESSION_RATIO,
    `entry ${quote(name)} expands to more than ${limits.maxCompressionRatio} times its ` +
      `compressed size; it looks like a zip bomb`,
  );
}
