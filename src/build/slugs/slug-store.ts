import { cp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface SlugStoreOptions {
  /** `<data-dir>/apps`: slugs live at `<root>/<app-id>/slugs/<artifact-id>/`. */
  readonly root: string;
}

/**
 * Where the process runtime's built releases live. A slug is complete once its marker file
 * exists beside it; a directory without one is a build that died, and is rebuilt. Rollbacks
 * and redeploys of unchanged source reuse the slug: nothing rebuilds.
 */
export class SlugStore {
  readonly #root: string;

  constructor(options: SlugStoreOptions) {
    this.#root = options.root;
  }

  /** The slug directory of an app's artifact (whether or not it is built). */
  path(appId: string, artifactId: string): string {
    return path.join(this.#root, appId, 'slugs', artifactId);
  }

  #marker(appId: string, artifactId: string): string {
    return `${this.path(appId, artifactId)}.built`;
  }

  /** True when the slug was built to the end. */
  async isBuilt(appId: string, artifactId: string): Promise<boolean> {
    try {
      await stat(this.#marker(appId, artifactId));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Puts the source tree where the slug is built, removing a half-built one first. The
   * source is moved when it is on the same file system (the common case: the task's work dir
   * is in the data dir), else copied.
   */
  async prepare(appId: string, artifactId: string, sourceDir: string): Promise<string> {
    const dir = this.path(appId, artifactId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      await rename(sourceDir, dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await cp(sourceDir, dir, { recursive: true, verbatimSymlinks: true });
    }
    return dir;
  }

  /** Records that the slug is complete. */
  async markBuilt(appId: string, artifactId: string, details: object): Promise<void> {
    await writeFile(this.#marker(appId, artifactId), `${JSON.stringify(details)}\n`);
  }

  /** Removes every slug of an app (it was destroyed). */
  async removeApp(appId: string): Promise<void> {
    await rm(path.join(this.#root, appId), { recursive: true, force: true });
  }

  /** Removes a slug whose build failed. */
  async discard(appId: string, artifactId: string): Promise<void> {
    await rm(this.#marker(appId, artifactId), { force: true });
    await rm(this.path(appId, artifactId), { recursive: true, force: true });
  }
}
