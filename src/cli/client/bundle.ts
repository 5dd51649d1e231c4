// Packs a directory into the tar.gz bundle of a deploy, leaving out what .gitignore and
// .berthignore name and always .git/. Symbolic links are left out (the server refuses them).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { CliError } from './errors.js';
import { IgnoreMatcher, parseIgnoreFile } from './ignore.js';

/** What a bundle holds. */
export interface Bundle {
  readonly data: Buffer;
  /** The files packed, relative to the directory, sorted. */
  readonly files: readonly string[];
  /** Symbolic links and other non-files that were skipped. */
  readonly skipped: readonly string[];
}

async function readIgnoreFile(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The files of `root` a deploy sends, after the ignore files. */
export async function listBundleFiles(
  root: string,
): Promise<{ files: string[]; skipped: string[] }> {
  const matcher = new IgnoreMatcher();
  const berthIgnore = await readIgnoreFile(path.join(root, '.berthignore'));
  const files: string[] = [];
  const skipped: string[] = [];
  async function walk(relativeDir: string): Promise<void> {
    const absolute = path.join(root, relativeDir);
    const gitignore = await readIgnoreFile(path.join(absolute, '.gitignore'));
    if (gitignore !== undefined) matcher.add(parseIgnoreFile(gitignore, relativeDir));
    // .berthignore is the last word at the root: it may re-include what .gitignore leaves out.
    if (relativeDir === '' && berthIgnore !== undefined) matcher.add(parseIgnoreFile(berthIgnore));
    const entries = await readdir(absolute, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!matcher.ignores(relative, true)) await walk(relative);
      } else if (entry.isFile()) {
        if (!matcher.ignores(relative, false)) files.push(relative);
      } else if (!matcher.ignores(relative, false)) {
        skipped.push(relative);
      }
    }
  }
  await walk('');
  return { files, skipped };
}

/** Packs the directory as a gzip'd tar. */
export async function bundleDirectory(root: string): Promise<Bundle> {
  const { files, skipped } = await listBundleFiles(root);
  if (files.length === 0)
    throw new CliError(`nothing to deploy: ${root} has no files (after the ignore files)`);
  const chunks: Buffer[] = [];
  const stream = tar.c({ gzip: true, cwd: root, portable: true, noDirRecurse: true }, files);
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return { data: Buffer.concat(chunks), files, skipped };
}
