#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: V8's young generation holds 2 MiB semi-spaces instead of 16. A
// controller idles most of its life; the default keeps some 28 MB resident that an idle server
// never uses (bench: npm run bench -- api, idle RSS). Node reads V8 flags only at start, hence
// here; `node --max-semi-space-size=16 bin/berth.js …` puts the default back.
// Runs the berth CLI: from source in a checkout (through tsx, so it is always current),
// else from the compiled dist/ of an installed package. BERTH_FROM_DIST=1 runs dist/ in a
// checkout too (after npm run build), as an installed Berth runs: benchmarks measure that.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/index.ts', import.meta.url);
const compiled = new URL('../dist/cli/index.js', import.meta.url);

let entry;
if (existsSync(source) && process.env.BERTH_FROM_DIST !== '1') {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
} else {
  entry = compiled;
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exit(code);
