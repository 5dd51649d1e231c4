import { chmod, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { OptionsError } from './options.js';

/**
 * The folders of the data dir, made private up front so that nothing made in them later is
 * ever reachable by an app's user whatever the umask (`apps` is the exception: see below).
 */
const PRIVATE_DIRS = ['runtime', 'router', 'artifacts', 'uploads', 'work', 'git', 'build-contexts'];

/**
 * Where apps' slugs and private directories are: 0711, so an app's user can pass through to
 * its own (each 0700 and its own) without listing or reading anyone else's.
 */
const APPS_DIR = 'apps';

/**
 * Makes the data dir safe to run apps beside: the dir itself 0711 (passable, not listable:
 * an app's user must reach `apps/<its id>/`), `apps/` 0711, every other entry the
 * controller's alone (folders 0700, files 0600), whatever an older Berth or the umask left.
 * What lies inside a 0700 folder is out of reach however its own modes read.
 */
export async function secureDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o711);
  for (const name of PRIVATE_DIRS)
    await mkdir(path.join(dataDir, name), { mode: 0o700 }).catch(exists);
  await mkdir(path.join(dataDir, APPS_DIR), { mode: 0o711 }).catch(exists);
  for (const name of await readdir(dataDir)) {
    const entry = path.join(dataDir, name);
    const info = await lstat(entry);
    if (info.isSymbolicLink()) continue;
    if (info.isDirectory()) await chmod(entry, name === APPS_DIR ? 0o711 : 0o700);
    else if (info.isFile()) await chmod(entry, 0o600);
    // Sockets and the like are in folders of their own; nothing else is made here.
  }
}

function exists(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
}

/**
 * Refuses a data dir that apps running as users of their own could not reach their releases
 * in: every folder above it must let others pass (o+x). Root's home (0700) is the usual
 * case, so the message says what to do rather than changing anybody's modes.
 */
export async function assertReachableByApps(dataDir: string): Promise<void> {
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new OptionsError(
        `apps run as users of their own here, and ${dir} (mode ${(mode & 0o777).toString(8)}) ` +
          `does not let them pass to their releases under ${dataDir}: choose a data dir under ` +
          `folders others may pass (e.g. --data-dir /var/lib/berth), or allow it with ` +
          `'chmod o+x ${dir}' if nothing under it must stay hidden`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}
