// Archive builders for the build tests: yazl and node-tar for well-formed bundles, and small
// raw writers for the hostile ones those libraries refuse to make ('../' names, links,
// devices, duplicates, encrypted flags, lying headers).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createGzip, gzipSync } from 'node:zlib';
import yazl from 'yazl';

/** A scratch directory removed by the returned cleanup. */
export async function scratch(prefix = 'berth-build-'): Promise<{
  dir: string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeArchive(dir: string, name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

// ---------------------------------------------------------------------------------------
// tar

export interface RawTarEntry {
  readonly name: string;
  /** Typeflag: '0' file, '1' hard link, '2' symlink, '3' char dev, '5' dir, '6' FIFO, 'x' pax. */
  readonly type?: string;
  readonly body?: Buffer | string;
  readonly mode?: number;
  readonly linkname?: string;
  /** Overrides the size field (to lie about it). */
  readonly size?: number;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block. */
export function tarHeader(entry: RawTarEntry): Buffer {
  const block = Buffer.alloc(512);
  const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
  block.write(entry.name, 0, 100, 'utf8');
  block.write(octal(entry.mode ?? (entry.type === '5' ? 0o755 : 0o644), 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(entry.size ?? body.length, 12), 124, 'ascii');
  block.write(octal(1_700_000_000, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write(entry.type ?? '0', 156, 'ascii');
  if (entry.linkname) block.write(entry.linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

function padded(body: Buffer): Buffer {
  const padding = (512 - (body.length % 512)) % 512;
  return Buffer.concat([body, Buffer.alloc(padding)]);
}

/** A whole tar archive, with the two end-of-archive blocks. */
export function rawTar(entries: readonly RawTarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry));
    if (entry.body !== undefined) parts.push(padded(Buffer.from(entry.body)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function rawTarGz(entries: readonly RawTarEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

/** `count` zero bytes as a stream, a MiB at a time. */
export function zeros(count: number): Readable {
  const chunk = Buffer.alloc(1024 * 1024);
  let left = count;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, chunk.length);
      left -= size;
      this.push(size === chunk.length ? chunk : chunk.subarray(0, size));
    },
  });
}

/** A tar.gz file holding one file of `size` zero bytes (plus `extra` entries first). */
export async function zeroFileTarGz(
  path: string,
  name: string,
  size: number,
  extra: readonly RawTarEntry[] = [],
): Promise<void> {
  async function* tarStream() {
    for (const entry of extra) {
      yield tarHeader(entry);
      if (entry.body !== undefined) yield padded(Buffer.from(entry.body));
    }
    yield tarHeader({ name, size });
    for await (const chunk of zeros(size)) yield chunk as Buffer;
    yield Buffer.alloc((512 - (size % 512)) % 512);
    yield Buffer.alloc(1024);
  }
  await pipeline(Readable.from(tarStream()), createGzip(), createWriteStream(path));
}

// ---------------------------------------------------------------------------------------
// zip

export interface YazlEntry {
  readonly name: string;
  readonly body?: Buffer | string;
  /** A stream of bytes (compressed by yazl as it goes). */
  readonly stream?: Readable;
  readonly directory?: boolean;
  /** The Unix st_mode, type bits included (yazl default 0o100664). */
  readonly mode?: number;
  readonly compress?: boolean;
}

/** A zip made by yazl, written to `path`. */
export async function yazlZip(path: string, entries: readonly YazlEntry[]): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    const options = {
      ...(entry.mode !== undefined ? { mode: entry.mode } : {}),
      ...(entry.compress !== undefined ? { compress: entry.compress } : {}),
    };
    if (entry.directory) zip.addEmptyDirectory(entry.name, options);
    else if (entry.stream) zip.addReadStream(entry.stream, entry.name, options);
    else zip.addBuffer(Buffer.from(entry.body ?? ''), entry.name, options);
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

export interface RawZipEntry {
  readonly name: string;
  readonly body?: Buffer | string;
  /** Unix st_mode for the external attributes (0: a DOS-style entry with none). */
  readonly mode?: number;
  /** General purpose flags (bit 0: encrypted). */
  readonly flags?: number;
  /** Compression method written in the headers (the data is always stored as given). */
  readonly method?: number;
  /** Overrides the CRC-32 written in the headers. */
  readonly crc?: number;
}

/** A zip with stored entries, written byte by byte: yazl refuses the names these tests need. */
export function rawZip(entries: readonly RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const body = Buffer.from(entry.body ?? '');
    const crc = entry.crc ?? crc32(body);
    const flags = (entry.flags ?? 0) | 0x0800;
    const method = entry.method ?? 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(body.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(body.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((entry.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
