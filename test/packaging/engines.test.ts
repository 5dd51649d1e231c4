// `npm ci` warns EBADENGINE for any locked package whose engines.node leaves out a Node that
// package.json says Berth runs on; this keeps the lock free of them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

/** The part of semver (a dependency of the toolchain, untyped here) this test uses. */
interface Semver {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { readonly version: string } | null;
}
const semver = createRequire(import.meta.url)('semver') as Semver;

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as T;
}

describe('package-lock.json', () => {
  it("admits, in every locked package's engines.node, the oldest Node Berth declares", () => {
    const declared = readJson<{ engines: { node: string } }>('package.json').engines.node;
    const oldest = semver.minVersion(declared)?.version;
    assert.ok(oldest, `package.json engines.node '${declared}' names no version`);
    const lock = readJson<{ packages: Record<string, { version?: string; engines?: unknown }> }>(
      'package-lock.json',
    );
    const refused = Object.entries(lock.packages).flatMap(([location, entry]) => {
      // engines is an object in today's packages, an array of strings in a few old ones.
      const engines = entry.engines as { node?: unknown } | undefined;
      const range = typeof engines?.node === 'string' ? engines.node : undefined;
      if (location === '' || range === undefined || semver.satisfies(oldest, range)) return [];
      return [`${location}@${entry.version ?? '?'} needs node ${range}`];
    });
    assert.deepEqual(refused, [], `Node ${oldest} (package.json: ${declared}) is refused by`);
  });
});
