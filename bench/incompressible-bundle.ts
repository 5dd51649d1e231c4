// A deploy bundle whose size is mostly random bytes, so gzip cannot shrink it: a large upload
// that still validates (a Procfile and the server it names).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';

const APP_FILES: Readonly<Record<string, string>> = Object.freeze({
  Procfile: 'web: node server.js\n',
  'server.js': "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n",
});

/**
 * A tar.gz of the app files plus `fileCount` files of random bytes, `randomTotal` bytes in all.
 * Fresh bytes each call, so no two bundles share an artifact.
 */
export async function incompressibleBundle(
  randomTotal: number,
  fileCount: number,
): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-bundle-'));
  try {
    const source = path.join(dir, 'source');
    await mkdir(path.join(source, 'data'), { recursive: true });
    const names = Object.keys(APP_FILES);
    for (const [name, content] of Object.entries(APP_FILES)) {
      await writeFile(path.join(source, name), content);
    }
    for (let i = 0; i < fileCount; i++) {
      const size = Math.floor(randomTotal / fileCount) + (i < randomTotal % fileCount ? 1 : 0);
      const name = `data/blob-${i}.bin`;
      await writeFile(path.join(source, name), randomBytes(size));
      names.push(name);
    }
    const out = path.join(dir, 'bundle.tar.gz');
    await tar.c({ gzip: true, cwd: source, file: out, portable: true }, names);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
