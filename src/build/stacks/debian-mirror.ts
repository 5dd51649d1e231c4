import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';

/** Where apt keeps the machine's sources (deb822 `.sources` files and one-line `.list` files). */
export const APT_SOURCES_DIR = '/etc/apt/sources.list.d';
export const APT_SOURCES_LIST = '/etc/apt/sources.list';

/** The first `URIs:` of a deb822 stanza that serves `suite` itself (not -security/-updates). */
function mirrorFromDeb822(text: string, suite: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1].toLowerCase(), match[2]);
    }
    if (fields.get('enabled')?.toLowerCase() === 'no') continue;
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if (!(fields.get('suites') ?? '').split(/\s+/).includes(suite)) continue;
    const uri = (fields.get('uris') ?? '').split(/\s+/).find(Boolean);
    if (uri) return uri;
  }
  return undefined;
}

/** The URL of a one-line `deb [opts] URL suite components` entry for `suite`. */
function mirrorFromList(text: string, suite: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw
      .replace(/#.*/, '')
      .replace(/\[[^\]]*\]/, ' ')
      .trim();
    const [type, uri, lineSuite] = line.split(/\s+/);
    if (type === 'deb' && uri && lineSuite === suite) return uri;
  }
  return undefined;
}

async function readIfThere(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}

/**
 * The Debian mirror this machine's apt uses for `suite`, read at run time so that no host is
 * written into the code. Throws NO_MIRROR naming the files it read when there is none.
 */
export async function findDebianMirror(
  suite: string,
  dirs: { sourcesDir?: string; sourcesList?: string } = {},
): Promise<string> {
  const sourcesDir = dirs.sourcesDir ?? APT_SOURCES_DIR;
  const sourcesList = dirs.sourcesList ?? APT_SOURCES_LIST;
  const names = (await readdir(sourcesDir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const text = await readIfThere(path.join(sourcesDir, name));
    if (text === undefined) continue;
    const found = name.endsWith('.sources')
      ? mirrorFromDeb822(text, suite)
      : name.endsWith('.list')
        ? mirrorFromList(text, suite)
        : undefined;
    if (found) return found;
  }
  const list = await readIfThere(sourcesList);
  const found = list === undefined ? undefined : mirrorFromList(list, suite);
  if (found) return found;
  throw new StackBuildError(
    StackBuildFailureReasons.NO_MIRROR,
    `no Debian mirror for ${suite} in ${sourcesDir}/*.sources or ${sourcesList}; ` +
      `name one with --mirror URL`,
  );
}
