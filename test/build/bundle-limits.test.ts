import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, deflateRawSync } from 'node:zlib';
import {
  BundleError,
  BundleErrorReasons,
  DEFAULT_BUNDLE_LIMITS,
  extractBundle,
  type BundleErrorReason,
  type BundleLimits,
} from '../../src/build/index.js';
import {
  rawTarGz,
  rawZip,
  scratch,
  tarHeader,
  yazlZip,
  zeroFileTarGz,
  zeros,
  type RawTarEntry,
  type YazlEntry,
} from './support/archives.js';

const MiB = 1024 * 1024;

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch());
});
after(() => cleanup());

async function fresh(): Promise<{ archivePath: string; destination: string }> {
  const dir = join(root, `case-${++counter}`);
  const destination = join(dir, 'out');
  await mkdir(destination, { recursive: true });
  return { archivePath: join(dir, 'bundle'), destination };
}

/**
 * Extraction of `archive` is refused with `reason`, leaving `destination` empty; returns how
 * long the refusal took, in ms (reported as a test diagnostic).
 */
async function assertRefused(
  t: TestContext,
  paths: { archivePath: string; destination: string },
  reason: BundleErrorReason,
  message: string | RegExp,
  limits?: Partial<BundleLimits>,
): Promise<number> {
  const started = performance.now();
  let caught: unknown;
  try {
    await extractBundle({ ...paths, ...(limits ? { limits } : {}) });
  } catch (error) {
    caught = error;
  }
  const elapsed = performance.now() - started;
  assert.ok(caught instanceof BundleError, `expected a BundleError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  if (typeof message === 'string') assert.ok(caught.message.includes(message), caught.message);
  else assert.match(caught.message, message);
  assert.deepEqual(await readdir(paths.destination), [], 'the destination is left empty');
  t.diagnostic(`refused in ${elapsed.toFixed(0)} ms: ${caught.message}`);
  return elapsed;
}

describe('extractBundle: zip bombs and limits', () => {
  it('the defaults are the documented ones', () => {
    assert.deepEqual(DEFAULT_BUNDLE_LIMITS, {
      maxEntries: 20_000,
      maxTotalBytes: 512 * MiB,
      maxFileBytes: 256 * MiB,
      maxCompressionRatio: 200,
      ratioThresholdBytes: 1 * MiB,
    });
  });

  describe('one entry of 300 MiB of zeros, deflated (about 300 KiB)', () => {
    let zipPath: string;
    before(async () => {
      zipPath = (await fresh()).archivePath;
      await yazlZip(zipPath, [
        { name: 'README.md', body: '# hello\n' },
        { name: 'bomb.bin', stream: zeros(300 * MiB) },
      ]);
    });

    it('is refused quickly by the file-size limit, without inflating it', async (t) => {
      const { destination } = await fresh();
      t.diagnostic(`zip is ${(await stat(zipPath)).size} bytes`);
      const elapsed = await assertRefused(
        t,
        { archivePath: zipPath, destination },
        BundleErrorReasons.FILE_TOO_LARGE,
        "entry 'bomb.bin' is larger than 256 MiB, the largest file a bundle may hold",
      );
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    });

    it('is refused by the compression ratio when the size limits would allow it', async (t) => {
      const { destination } = await fresh();
      const elapsed = await assertRefused(
        t,
        { archivePath: zipPath, destination },
        BundleErrorReasons.COMPRESSION_RATIO,
        "entry 'bomb.bin' expands to more than 200 times its compressed size",
        { maxFileBytes: 1024 * MiB, maxTotalBytes: 1024 * MiB },
      );
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    });
  });

  it('refuses a zip entry that inflates past the size its header declares', async (t) => {
    // A lying header: 20 MiB of zeros deflated, declared as 100 bytes, so no precheck fires.
    const lie = deflateRawSync(Buffer.alloc(20 * MiB));
    const bytes = rawZip([{ name: 'small.txt', body: lie, method: 8 }]);
    // rawZip writes the compressed length as both sizes; patch the uncompressed ones to 100.
    const central = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes.writeUInt32LE(100, 22);
    bytes.writeUInt32LE(100, central + 24);
    const paths = await fresh();
    await writeFile(paths.archivePath, bytes);
    await assertRefused(t, paths, BundleErrorReasons.CORRUPT_ARCHIVE, /damaged or truncated/);
  });

  it('refuses many small bombs by the overall ratio, counting bytes as written', async (t) => {
    // Each entry is exactly 1 MiB (under the per-entry threshold), together ~1000:1.
    const entries: YazlEntry[] = [];
    for (let i = 0; i < 100; i++) entries.push({ name: `z/${i}.bin`, body: Buffer.alloc(MiB) });
    const paths = await fresh();
    await yazlZip(paths.archivePath, entries);
    const elapsed = await assertRefused(
      t,
      paths,
      BundleErrorReasons.COMPRESSION_RATIO,
      /^the bundle expands to more than 200 times its size/,
    );
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
  });

  describe('tar.gz bombs', () => {
    it('refuses 300 MiB of zeros by the file-size limit, at once', async (t) => {
      const paths = await fresh();
      await zeroFileTarGz(paths.archivePath, 'bomb.bin', 300 * MiB, [
        { name: 'README.md', body: 'hi' },
      ]);
      const elapsed = await assertRefused(
        t,
        paths,
        BundleErrorReasons.FILE_TOO_LARGE,
        "entry 'bomb.bin' is larger than 256 MiB",
      );
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    });

    it('refuses 100 MiB of zeros by the per-entry ratio, while streaming', async (t) => {
      const paths = await fresh();
      await zeroFileTarGz(paths.archivePath, 'bomb.bin', 100 * MiB, [
        { name: 'README.md', body: 'hi' },
      ]);
      const elapsed = await assertRefused(
        t,
        paths,
        BundleErrorReasons.COMPRESSION_RATIO,
        "entry 'bomb.bin' expands to more than 200 times its compressed size",
      );
      assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    });

    it('refuses a stream that keeps inflating after the end of the archive', async (t) => {
      // One small file, then 64 MiB of zeros (end-of-archive blocks) inside the gzip stream,
      // which must still be read to its end for gzip's checksum, and counted.
      const paths = await fresh();
      async function* stream() {
        yield tarHeader({ name: 'a.txt', body: 'a' });
        yield Buffer.concat([Buffer.from('a'), Buffer.alloc(511)]);
        for await (const chunk of zeros(64 * MiB)) yield chunk as Buffer;
      }
      await pipeline(Readable.from(stream()), createGzip(), createWriteStream(paths.archivePath));
      await assertRefused(
        t,
        paths,
        BundleErrorReasons.COMPRESSION_RATIO,
        /^the bundle expands to more than 200 times its size/,
      );
    });
  });

  it('refuses more bytes in total than allowed, counting written bytes', async (t) => {
    const entries: RawTarEntry[] = [0, 1, 2].map((i) => ({
      name: `r${i}.bin`,
      body: randomBytes(400 * 1024),
    }));
    const paths = await fresh();
    await writeFile(paths.archivePath, rawTarGz(entries));
    await assertRefused(
      t,
      paths,
      BundleErrorReasons.TOO_LARGE,
      'the bundle expands to more than 1 MiB, the most a bundle may hold',
      { maxTotalBytes: MiB },
    );
  });

  describe('entry counts', () => {
    it('refuses a zip of 20,001 tiny entries before extracting any', async (t) => {
      const entries: YazlEntry[] = [];
      for (let i = 0; i < 20_001; i++) {
        entries.push({ name: `f/${i}.txt`, body: 'x', compress: false });
      }
      const paths = await fresh();
      await yazlZip(paths.archivePath, entries);
      const elapsed = await assertRefused(
        t,
        paths,
        BundleErrorReasons.TOO_MANY_ENTRIES,
        'the bundle has more than 20000 entries',
      );
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    });

    it('refuses a tar.gz with one entry too many, counted as read, and cleans up', async (t) => {
      // The same path as the default 20,000 with a tenth of the files, to keep the suite quick:
      // tar has no central directory, so the count is reached only after writing the others.
      const entries: RawTarEntry[] = [];
      for (let i = 0; i < 2_001; i++) entries.push({ name: `f${i % 100}/${i}.txt`, body: 'x' });
      const paths = await fresh();
      await writeFile(paths.archivePath, rawTarGz(entries));
      await assertRefused(
        t,
        paths,
        BundleErrorReasons.TOO_MANY_ENTRIES,
        'the bundle has more than 2000 entries',
        { maxEntries: 2_000 },
      );
    });

    it('accepts exactly the limit, counting directories as entries', async () => {
      const entries: RawTarEntry[] = [
        { name: 'd/', type: '5' },
        ...[0, 1, 2, 3].map((i) => ({ name: `d/${i}.txt`, body: `${i}` })),
      ];
      const paths = await fresh();
      await writeFile(paths.archivePath, rawTarGz(entries));
      const result = await extractBundle({ ...paths, limits: { maxEntries: 5 } });
      assert.deepEqual(result, { fileCount: 4, totalBytes: 4 });
      const again = await fresh();
      await writeFile(again.archivePath, rawTarGz(entries));
      await assert.rejects(
        extractBundle({ ...again, limits: { maxEntries: 4 } }),
        (error) => error instanceof BundleError && error.reason === 'TOO_MANY_ENTRIES',
      );
      assert.deepEqual(await readdir(again.destination), []);
    });
  });

  it('lets an ordinary bundle through: many files, some large, compressing a few times', async () => {
    // Words drawn from a small vocabulary compress like source code (about 4:1).
    const vocabulary = Array.from({ length: 500 }, () => randomBytes(4).toString('hex'));
    const text = (words: number) =>
      Array.from({ length: words }, () => vocabulary[Math.floor(Math.random() * 500)]).join(' ');
    const entries: RawTarEntry[] = [{ name: 'big/data.txt', body: text(400_000) }];
    for (let i = 0; i < 300; i++) entries.push({ name: `src/m${i}.ts`, body: text(200) });
    const paths = await fresh();
    await writeFile(paths.archivePath, rawTarGz(entries));
    const result = await extractBundle(paths);
    assert.equal(result.fileCount, 301);
    assert.ok(result.totalBytes > 3 * MiB);
  });
});
