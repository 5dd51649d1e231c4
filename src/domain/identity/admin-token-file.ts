import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** The file in the data dir that holds the first admin token (docs/operations.md). */
export const INITIAL_ADMIN_TOKEN_FILE = 'initial-admin-token';

/** A token file written under a temporary name, waiting to be published or discarded. */
export interface StagedTokenFile {
  /** Moves the file into place (replacing a stale one) and returns its path. */
  publish(): Promise<string>;
  discard(): Promise<void>;
}

/**
 * Writes the token to a temporary file beside the final one, created with mode 0600 (never
 * readable by others, not even for a moment) and synced. It is staged before the admin is
 * committed so that a crash right after the commit still leaves the token on disk.
 */
export async function stageTokenFile(dataDir: string, token: string): Promise<StagedTokenFile> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const finalPath = path.join(dataDir, INITIAL_ADMIN_TOKEN_FILE);
  const stagedPath = path.join(dataDir, `.${INITIAL_ADMIN_TOKEN_FILE}.${randomUUID()}.tmp`);
  const file = await open(stagedPath, 'wx', 0o600);
  try {
    await file.writeFile(`${token}\n`, 'utf8');
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(stagedPath, { force: true });
    throw error;
  }
  await file.close();
  return {
    async publish() {
      await rename(stagedPath, finalPath);
      return finalPath;
    },
    discard: () => rm(stagedPath, { force: true }),
  };
}
