import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../errors/index.js';
import { quote } from '../quote.js';
import { digestTree, listTree } from './tree-digest.js';

/** Artifact ids: the sha256 of the tree, lowercase hex. */
export const ARTIFACT_ID_PATTERN = /^[0-9a-f]{64}$/;

export interface ArtifactStoreOptions {
  /** The directory that holds one subdirectory per artifact; created on first use. */
  readonly root: string;
}

export interface StoredArtifact {
  readonly id: string;
  /** Bytes of the regular files. */
  readonly sizeBytes: number;
  readonly fileCount: number;
  /** False when an identical tree was already stored (by this put's time). */
  readonly created: boolean;
}

/**
 * Content-addressed storage of source trees: a tree's id is the digest of its content, so an
 * unchanged tree is stored once. A tree appears under its id whole or not at all (copied to a
 * temporary directory, then renamed), and is read-only once there. Symbolic links inside a
 * tree are stored as links, never followed.
 */
export class ArtifactStore {
  readonly #root: string;

  constructor(options: ArtifactStoreOptions) {
    this.#root = options.root;
  }

  /** Stores a copy of `sourceDir` (which the caller keeps) unless its content is stored already. */
  async put(sourceDir: string): Promise<StoredArtifact> {
    // Hash first: the common redeploy of unchanged source then costs one read, no copy.
    const digest = await digestTree(sourceDir, await listTree(sourceDir));
    const final = this.path(digest.id);
    if (await this.has(digest.id)) return { ...digest, created: false };

    await mkdir(this.#root, { recursive: true });
    const temporary = join(this.#root, `.tmp-${randomBytes(12).toString('hex')}`);
    try {
      await mkdir(temporary);
      const copy = await digestTree(sourceDir, await listTree(sourceDir), temporary);
      if (copy.id !== digest.id) {
        throw new Error(`the tree ${sourceDir} changed while it was being stored`);
      }
      try {
        await rename(temporary, final);
        return { ...copy, created: true };
      } catch (error) {
        // Another put stored the same tree first: its copy is ours, byte for byte.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        await rm(temporary, { recursive: true, force: true });
        return { ...copy, created: false };
      }
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      throw error;
    }
  }

  /** Where an artifact's tree is (whether or not it exists). Throws InputError on a bad id. */
  path(id: string): string {
    assertArtifactId(id);
    return join(this.#root, id);
  }

  async has(id: string): Promise<boolean> {
    try {
      return (await stat(this.path(id))).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /**
   * Deletes an artifact; false when there was none. The tree leaves its id at once (a rename)
   * and is deleted afterwards, so nobody sees it half-deleted.
   */
  async remove(id: string): Promise<boolean> {
    const trash = join(this.#root, `.trash-${randomBytes(12).toString('hex')}`);
    try {
      await rename(this.path(id), trash);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /** The ids of the stored artifacts, sorted. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.filter((name) => ARTIFACT_ID_PATTERN.test(name)).sort();
  }
}

function assertArtifactId(id: string): void {
  if (typeof id !== 'string' || !ARTIFACT_ID_PATTERN.test(id)) {
    throw new InputError(
      `${typeof id === 'string' ? quote(id) : String(id)} is not an artifact id (64 lowercase hex digits)`,
    );
  }
}
