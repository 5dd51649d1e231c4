// Preloaded (node --import) into a server a test starts: when it exits, writes the npm
// packages it loaded (by CommonJS or by import, both land in require.cache) to the file
// BERTH_TEST_LOADED_PACKAGES names, one per line.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';

const cache = createRequire(import.meta.url).cache;

process.on('exit', () => {
  const file = process.env['BERTH_TEST_LOADED_PACKAGES'];
  if (!file) return;
  const packages = new Set();
  for (const key of Object.keys(cache)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(key);
    if (match) packages.add(match[1]);
  }
  writeFileSync(file, [...packages].sort().join('\n') + '\n');
});
