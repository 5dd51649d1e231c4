// Builds deploy bundles (tar.gz or zip) from a map of paths to contents, for tests.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import yazl from 'yazl';

export type BundleFiles = Readonly<Record<string, string>>;

export async function tarGzBundle(files: BundleFiles): Promise<Buffer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bundle-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, 'src', name)), { recursive: true });
      writeFileSync(path.join(dir, 'src', name), content);
    }
    const out = path.join(dir, 'bundle.tar.gz');
    await tar.c(
      { gzip: true, cwd: path.join(dir, 'src'), file: out, portable: true },
      Object.keys(files),
    );
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function zipBundle(files: BundleFiles): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name);
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** A small Node app with a Procfile and berth.json. */
export const nodeApp: BundleFiles = {
  'package.json': JSON.stringify({
    name: 'hello',
    version: '1.0.0',
    scripts: { start: 'node server.js' },
  }),
  'server.js': "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n",
  Procfile: 'web: node server.js\nworker: node worker.js\n',
  'worker.js': 'setInterval(() => {}, 1000);\n',
  'berth.json': JSON.stringify({
    name: 'hello',
    description: 'a test app',
    author: 'tester',
    version: '1.0.0',
    env: { GREETING: { description: 'what to say', value: 'hello' } },
    healthcheck: { path: '/', timeoutSeconds: 5, attempts: 3 },
  }),
};
