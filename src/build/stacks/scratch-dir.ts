import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runTool } from './run-tool.js';

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const unescape = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return info
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((mount) => mount === dir || mount.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** A temp directory under os.tmpdir() and the way to remove it. */
export interface ScratchDir {
  readonly dir: string;
  remove(): Promise<void>;
}

/**
 * Makes a scratch directory for a root filesystem. remove() first unmounts anything left
 * mounted inside (a debootstrap killed half-way leaves its target's /proc and /sys mounted),
 * because a recursive delete would otherwise walk into the host's /proc or /sys.
 */
export async function makeScratchDir(prefix: string, parent = os.tmpdir()): Promise<ScratchDir> {
  const dir = await mkdtemp(path.join(parent, prefix));
  return {
    dir,
    async remove() {
      for (const mount of await mountsUnder(dir)) {
        await runTool('umount', ['--lazy', mount], { debianPackage: 'mount' });
      }
      const left = await mountsUnder(dir);
      if (left.length > 0) throw new Error(`could not unmount ${left.join(', ')}; left ${dir}`);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
