import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import {
  BundleError,
  BundleErrorReasons,
  extractBundle,
  type BundleErrorReason,
} from '../../src/build/index.js';
import { BerthError, ErrorCodes } from '../../src/errors/index.js';
import {
  rawTar,
  rawTarGz,
  rawZip,
  scratch,
  writeArchive,
  yazlZip,
  type RawTarEntry,
  type RawZipEntry,
} from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch());
});
after(() => cleanup());

/** A fresh empty destination and a path for the archive. */
async function fresh(): Promise<{ archive: string; destination: string }> {
  const dir = join(root, `case-${++counter}`);
  const destination = join(dir, 'out');
  await mkdir(destination, { recursive: true });
  return { archive: join(dir, 'bundle'), destination };
}

async function extractBytes(bytes: Buffer) {
  const { archive, destination } = await fresh();
  await writeFile(archive, bytes);
  const result = await extractBundle({ archivePath: archive, destination });
  return { result, destination };
}

/** Every file under `dir`, '/'-separated, with its contents and mode bits. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    const rel = full.slice(dir.length + 1);
    out[rel] = entry.isDirectory() ? '<dir>' : await readFile(full, 'utf8');
  }
  return out;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

/** Extracting `bytes` is refused with `reason`; the destination is left empty. */
async function assertRefused(
  bytes: Buffer,
  reason: BundleErrorReason,
  message?: string | RegExp,
): Promise<BundleError> {
  const { archive, destination } = await fresh();
  await writeFile(archive, bytes);
  let caught: unknown;
  try {
    await extractBundle({ archivePath: archive, destination });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof BundleError, `expected a BundleError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  if (typeof message === 'string') assert.ok(caught.message.includes(message), caught.message);
  else if (message) assert.match(caught.message, message);
  assert.deepEqual(await readdir(destination), [], 'the destination is left empty');
  return caught;
}

/** A file that comes first in each hostile archive, so the cleanup has something to remove. */
const FIRST: RawTarEntry = { name: 'src/app.js', body: 'console.log(1)\n' };
const FIRST_ZIP: RawZipEntry = { name: 'src/app.js', body: 'console.log(1)\n' };

describe('extractBundle: well-formed bundles', () => {
  it('extracts a zip made by yazl, with implicit and empty directories and exec bits', async () => {
    const { archive, destination } = await fresh();
    await yazlZip(archive, [
      { name: 'package.json', body: '{"name":"x"}' },
      { name: 'src/lib/a.js', body: 'a' },
      { name: 'bin/run', body: '#!/bin/sh\n', mode: 0o100755 },
      { name: 'bin/setuid', body: 'x', mode: 0o104755 },
      { name: 'assets/', directory: true },
      { name: 'stored.txt', body: 'not compressed', compress: false },
    ]);
    const result = await extractBundle({ archivePath: archive, destination });
    assert.deepEqual(result, { fileCount: 5, totalBytes: 12 + 1 + 10 + 1 + 14 });
    assert.deepEqual(await tree(destination), {
      'package.json': '{"name":"x"}',
      src: '<dir>',
      'src/lib': '<dir>',
      'src/lib/a.js': 'a',
      bin: '<dir>',
      'bin/run': '#!/bin/sh\n',
      'bin/setuid': 'x',
      assets: '<dir>',
      'stored.txt': 'not compressed',
    });
    assert.equal(await mode(join(destination, 'bin/run')), 0o755);
    assert.equal(await mode(join(destination, 'bin/setuid')), 0o755, 'setuid is dropped');
    assert.equal(await mode(join(destination, 'package.json')), 0o644);
  });

  it('extracts a tar.gz made by node-tar from a real directory, keeping exec bits only', async () => {
    const { dir: source, cleanup: done } = await scratch();
    try {
      await mkdir(join(source, 'lib/deep'), { recursive: true });
      await mkdir(join(source, 'empty'));
      await writeFile(join(source, 'Procfile'), 'web: ./start\n');
      await writeFile(join(source, 'start'), '#!/bin/sh\nexec node lib/deep/x.js\n');
      await chmod(join(source, 'start'), 0o4755);
      await writeFile(join(source, 'lib/deep/x.js'), 'x'.repeat(100_000));
      const { archive, destination } = await fresh();
      await tar.c({ gzip: true, cwd: source, file: archive, portable: true }, ['.']);
      const result = await extractBundle({ archivePath: archive, destination });
      assert.deepEqual(result, { fileCount: 3, totalBytes: 13 + 34 + 100_000 });
      assert.deepEqual(Object.keys(await tree(destination)).sort(), [
        'Procfile',
        'empty',
        'lib',
        'lib/deep',
        'lib/deep/x.js',
        'start',
      ]);
      assert.equal(await mode(join(destination, 'start')), 0o755);
      assert.equal(await mode(join(destination, 'Procfile')), 0o644);
    } finally {
      await done();
    }
  });

  it('extracts a plain tar', async () => {
    const { destination, result } = await extractBytes(
      rawTar([
        { name: 'a/', type: '5' },
        { name: 'a/b.txt', body: 'hello' },
      ]),
    );
    assert.deepEqual(result, { fileCount: 1, totalBytes: 5 });
    assert.deepEqual(await tree(destination), { a: '<dir>', 'a/b.txt': 'hello' });
  });

  it('tells the format by content, not by name', async () => {
    const { archive, destination } = await fresh();
    const misnamed = `${archive}.zip`;
    await writeFile(misnamed, rawTarGz([{ name: 'x.txt', body: 'tar.gz inside' }]));
    await extractBundle({ archivePath: misnamed, destination });
    assert.deepEqual(await tree(destination), { 'x.txt': 'tar.gz inside' });
  });

  it("normalises './', '//' and '.' components, and accepts a root entry", async () => {
    const { destination } = await extractBytes(
      rawTarGz([
        { name: './', type: '5' },
        { name: './a//b/./c.txt', body: 'c' },
      ]),
    );
    assert.deepEqual(await tree(destination), { a: '<dir>', 'a/b': '<dir>', 'a/b/c.txt': 'c' });
  });

  it('accepts a directory named after an implicit one, and the same file in two directories', async () => {
    const { destination } = await extractBytes(
      rawZip([
        { name: 'a/x.txt', body: '1' },
        { name: 'a/', mode: 0o040755 },
        { name: 'b/x.txt', body: '2' },
      ]),
    );
    assert.deepEqual(await tree(destination), {
      a: '<dir>',
      'a/x.txt': '1',
      b: '<dir>',
      'b/x.txt': '2',
    });
  });

  it('takes a DOS-made zip entry (no Unix mode) as a plain, non-executable file', async () => {
    const { destination } = await extractBytes(rawZip([{ name: 'README', body: 'hi', mode: 0 }]));
    assert.equal(await mode(join(destination, 'README')), 0o644);
  });
});

describe('extractBundle: refusals', () => {
  it('is a BundleError: a BerthError with code BUNDLE_INVALID, not retryable', async () => {
    const error = await assertRefused(Buffer.from('hello'), BundleErrorReasons.NOT_AN_ARCHIVE);
    assert.ok(error instanceof BerthError);
    assert.equal(error.code, ErrorCodes.BUNDLE_INVALID);
    assert.equal(error.kind, 'input');
    assert.equal(error.retryable, false);
    assert.equal(error.name, 'BundleError');
    // A bundle over a limit is too large rather than malformed (HTTP 413).
    const bomb = new BundleError(BundleErrorReasons.COMPRESSION_RATIO, 'a zip bomb');
    assert.equal(bomb.kind, 'too-large');
  });

  describe('not an archive, or a damaged one', () => {
    it('refuses bytes that are no archive, and an empty upload', async () => {
      await assertRefused(
        Buffer.from('just some text, not an archive at all\n'.repeat(20)),
        BundleErrorReasons.NOT_AN_ARCHIVE,
        'is not a zip, tar.gz or tar archive',
      );
      await assertRefused(Buffer.alloc(0), BundleErrorReasons.NOT_AN_ARCHIVE, 'empty (0 bytes)');
    });

    it('refuses gzip that does not hold a tar', async () => {
      await assertRefused(
        gzipSync(Buffer.from('{"not":"a tar"}'.repeat(100))),
        BundleErrorReasons.NOT_AN_ARCHIVE,
        'gzip-compressed but does not hold a tar archive',
      );
      await assertRefused(gzipSync(Buffer.alloc(0)), BundleErrorReasons.NOT_AN_ARCHIVE);
    });

    it('refuses a truncated zip and a zip whose end record is gone', async () => {
      const { archive } = await fresh();
      await yazlZip(archive, [
        { name: 'a.txt', body: 'a'.repeat(10_000) },
        { name: 'b.txt', body: 'b'.repeat(10_000) },
      ]);
      const whole = await readFile(archive);
      await assertRefused(
        whole.subarray(0, Math.floor(whole.length / 2)),
        BundleErrorReasons.CORRUPT_ARCHIVE,
        'the zip archive is damaged or truncated',
      );
      await assertRefused(whole.subarray(0, whole.length - 10), BundleErrorReasons.CORRUPT_ARCHIVE);
    });

    it('refuses a zip entry whose contents do not match its CRC-32', async () => {
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'b.txt', body: 'tampered', crc: 12345 }]),
        BundleErrorReasons.CORRUPT_ARCHIVE,
        "entry 'b.txt' is damaged",
      );
    });

    it('refuses a truncated tar.gz, and one with a flipped byte', async () => {
      const whole = rawTarGz([FIRST, { name: 'big.bin', body: Buffer.alloc(200_000, 7) }]);
      await assertRefused(
        whole.subarray(0, whole.length - 30),
        BundleErrorReasons.CORRUPT_ARCHIVE,
        /damaged or truncated/,
      );
      const flipped = Buffer.from(whole);
      const middle = Math.floor(flipped.length / 2);
      flipped[middle] = (flipped[middle] ?? 0) ^ 0xff;
      await assertRefused(flipped, BundleErrorReasons.CORRUPT_ARCHIVE);
    });

    it('refuses a plain tar cut off in the middle of a file', async () => {
      const whole = rawTar([FIRST, { name: 'big.bin', body: Buffer.alloc(5000, 1) }]);
      await assertRefused(
        whole.subarray(0, 512 * 4),
        BundleErrorReasons.CORRUPT_ARCHIVE,
        'the tar archive is damaged or truncated',
      );
    });

    it('refuses a tar header with a bad checksum', async () => {
      const bytes = rawTar([FIRST, { name: 'b.txt', body: 'b' }]);
      const second = 512 * 2;
      bytes[second + 10] = 0x41; // change the name after the checksum was computed
      await assertRefused(bytes, BundleErrorReasons.CORRUPT_ARCHIVE, /checksum/);
    });

    it('refuses an archive with no files', async () => {
      await assertRefused(rawZip([]), BundleErrorReasons.EMPTY_BUNDLE, 'holds no files');
      await assertRefused(
        rawTarGz([{ name: 'only-a-dir/', type: '5' }]),
        BundleErrorReasons.EMPTY_BUNDLE,
      );
    });
  });

  describe('paths', () => {
    const cases: [string, BundleErrorReason, string][] = [
      ['../x', BundleErrorReasons.PATH_ESCAPES, "entry '../x' escapes the bundle"],
      ['a/../../x', BundleErrorReasons.PATH_ESCAPES, "entry 'a/../../x' escapes the bundle"],
      ['a/..', BundleErrorReasons.PATH_ESCAPES, 'escapes the bundle'],
      ['/etc/passwd', BundleErrorReasons.ABSOLUTE_PATH, "entry '/etc/passwd' is an absolute path"],
      ['C:/Windows/x', BundleErrorReasons.ABSOLUTE_PATH, 'is an absolute path'],
      ['C:x', BundleErrorReasons.ABSOLUTE_PATH, 'is an absolute path'],
      ['..\\x', BundleErrorReasons.INVALID_PATH, 'contains a backslash'],
      ['a\\b.txt', BundleErrorReasons.INVALID_PATH, 'contains a backslash'],
    ];
    for (const [name, reason, message] of cases) {
      it(`refuses ${JSON.stringify(name)} in a tar.gz and in a zip`, async () => {
        await assertRefused(rawTarGz([FIRST, { name, body: 'x' }]), reason, message);
        await assertRefused(rawZip([FIRST_ZIP, { name, body: 'x' }]), reason, message);
      });
    }

    it("refuses a '../' path given by a pax extended header", async () => {
      const record = (text: string) => {
        const line = ` ${text}\n`;
        let length = line.length + 1;
        while (`${length}${line}`.length !== length) length = `${length}${line}`.length;
        return `${length}${line}`;
      };
      await assertRefused(
        rawTarGz([
          FIRST,
          { name: 'PaxHeader/innocent', type: 'x', body: record('path=../../etc/cron.d/evil') },
          { name: 'innocent.txt', body: 'x' },
        ]),
        BundleErrorReasons.PATH_ESCAPES,
        "entry '../../etc/cron.d/evil' escapes the bundle",
      );
    });

    it('refuses control characters in names, and shows them escaped', async () => {
      await assertRefused(
        rawTarGz([FIRST, { name: 'evil\nname', body: 'x' }]),
        BundleErrorReasons.INVALID_PATH,
        "entry 'evil\\nname' contains a control character",
      );
    });

    it('refuses a file name longer than 255 bytes', async () => {
      await assertRefused(
        rawZip([FIRST_ZIP, { name: `${'a'.repeat(256)}.txt`, body: 'x' }]),
        BundleErrorReasons.INVALID_PATH,
        'longer than 255 bytes',
      );
    });
  });

  describe('entry types', () => {
    it('refuses symbolic and hard links in a tar, naming their target', async () => {
      await assertRefused(
        rawTarGz([FIRST, { name: 'link', type: '2', linkname: '/etc/passwd' }]),
        BundleErrorReasons.LINK_ENTRY,
        "entry 'link' is a symbolic link (to '/etc/passwd'); bundles may not contain links",
      );
      await assertRefused(
        rawTarGz([FIRST, { name: 'hard', type: '1', linkname: 'src/app.js' }]),
        BundleErrorReasons.LINK_ENTRY,
        "entry 'hard' is a hard link (to 'src/app.js')",
      );
    });

    it('refuses a symbolic link in a zip, even one pointing inside the bundle', async () => {
      const { archive } = await fresh();
      await yazlZip(archive, [
        { name: 'src/app.js', body: 'x' },
        { name: 'app', body: 'src/app.js', mode: 0o120777 },
      ]);
      await assertRefused(
        await readFile(archive),
        BundleErrorReasons.LINK_ENTRY,
        "entry 'app' is a symbolic link; bundles may not contain links of any kind",
      );
    });

    it('refuses devices and FIFOs in a tar', async () => {
      for (const [type, what] of [
        ['3', 'a character device'],
        ['4', 'a block device'],
        ['6', 'a FIFO'],
      ] as const) {
        await assertRefused(
          rawTarGz([FIRST, { name: 'dev/thing', type }]),
          BundleErrorReasons.SPECIAL_ENTRY,
          `entry 'dev/thing' is ${what}; bundles may contain only regular files and directories`,
        );
      }
    });

    it('refuses unsupported tar entry types', async () => {
      await assertRefused(
        rawTarGz([FIRST, { name: 'sparse', type: 'S', body: 'x' }]),
        BundleErrorReasons.SPECIAL_ENTRY,
        "entry 'sparse' is an unsupported tar entry",
      );
    });

    it('refuses a FIFO and a socket in a zip', async () => {
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'fifo', mode: 0o010644 }]),
        BundleErrorReasons.SPECIAL_ENTRY,
        "entry 'fifo' is a FIFO",
      );
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'sock', mode: 0o140644 }]),
        BundleErrorReasons.SPECIAL_ENTRY,
        "entry 'sock' is a socket",
      );
    });

    it('refuses encrypted zip entries', async () => {
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'secret.txt', body: 'xxxxxxxxxxxxyy', flags: 1, method: 8 }]),
        BundleErrorReasons.ENCRYPTED_ENTRY,
        "entry 'secret.txt' is encrypted",
      );
    });

    it('refuses zip compression methods other than store and deflate', async () => {
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'b.bz2', body: 'x', method: 12 }]),
        BundleErrorReasons.UNSUPPORTED_COMPRESSION,
        "entry 'b.bz2' uses zip compression method 12",
      );
    });
  });

  describe('duplicates', () => {
    it('refuses the same file twice', async () => {
      await assertRefused(
        rawTarGz([FIRST, { name: 'a.txt', body: '1' }, { name: './a.txt', body: '2' }]),
        BundleErrorReasons.DUPLICATE_ENTRY,
        "entry './a.txt' appears more than once in the bundle",
      );
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'a.txt', body: '1' }, { name: 'a.txt', body: '2' }]),
        BundleErrorReasons.DUPLICATE_ENTRY,
        'appears more than once',
      );
    });

    it('refuses the same directory twice', async () => {
      await assertRefused(
        rawTarGz([FIRST, { name: 'd/', type: '5' }, { name: 'd', type: '5' }]),
        BundleErrorReasons.DUPLICATE_ENTRY,
      );
    });

    it('refuses a path that is both a file and a directory, in either order', async () => {
      await assertRefused(
        rawTarGz([FIRST, { name: 'a', body: 'file' }, { name: 'a/b.txt', body: 'x' }]),
        BundleErrorReasons.DUPLICATE_ENTRY,
        "entry 'a/b.txt' needs 'a' to be a directory, but the bundle also has a file 'a'",
      );
      await assertRefused(
        rawZip([FIRST_ZIP, { name: 'a/b.txt', body: 'x' }, { name: 'a', body: 'file' }]),
        BundleErrorReasons.DUPLICATE_ENTRY,
        "entry 'a' is both a file and a directory",
      );
      await assertRefused(
        rawTarGz([FIRST, { name: 'a/', type: '5' }, { name: 'a', body: 'file' }]),
        BundleErrorReasons.DUPLICATE_ENTRY,
      );
    });
  });

  describe('the destination', () => {
    it('must be empty, and a non-empty one is never touched', async () => {
      const { archive, destination } = await fresh();
      await writeArchive(join(archive, '..'), 'bundle', rawTarGz([FIRST]));
      await writeFile(join(destination, 'keep.txt'), 'mine');
      await assert.rejects(
        extractBundle({ archivePath: archive, destination }),
        /needs an empty destination directory/,
      );
      assert.deepEqual(await readdir(destination), ['keep.txt']);
    });

    it('is emptied of everything written before a refusal, nested directories included', async () => {
      const entries: RawTarEntry[] = [];
      for (let i = 0; i < 50; i++) entries.push({ name: `d${i % 5}/sub/f${i}.txt`, body: `${i}` });
      entries.push({ name: 'late/../../escape', body: 'x' });
      await assertRefused(rawTarGz(entries), BundleErrorReasons.PATH_ESCAPES);
    });
  });

  it('rejects bad limits as a programming error', async () => {
    const { archive, destination } = await fresh();
    await writeFile(archive, rawTarGz([FIRST]));
    await assert.rejects(
      extractBundle({ archivePath: archive, destination, limits: { maxEntries: 0 } }),
      TypeError,
    );
  });
});
