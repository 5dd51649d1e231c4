#!/usr/bin/env node
// Runs the berth CLI: from source in a checkout (through tsx, so it is always current),
// else from the compiled dist/ of an installed package.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/index.ts', import.meta.url);
const compiled = new URL('../dist/cli/index.js', import.meta.url);

let entry;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
} else {
  entry = compiled;
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exit(code);
