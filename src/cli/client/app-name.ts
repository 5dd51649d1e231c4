// Which app a command is about: an argument, --app, or the app of the repo's `berth` remote.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UsageError } from './errors.js';

const run = promisify(execFile);

/** App names as the API accepts them. */
export const APP_NAME = /^[a-z][a-z0-9-]{0,38}$/;

/** The app of a git remote URL ending in /git/<app>.git (or <app>.git), if any. */
export function appOfRemoteUrl(url: string): string | undefined {
  const match = /\/(?:git\/)?([a-z][a-z0-9-]{0,38})\.git\/?$/.exec(url.trim());
  return match?.[1];
}

/** The app of the current repo's `berth` remote, or undefined outside a repo or without one. */
export async function appOfGitRemote(cwd = process.cwd()): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['remote', 'get-url', 'berth'], { cwd });
    return appOfRemoteUrl(stdout);
  } catch {
    return undefined;
  }
}

/** The app from --app, else the given argument, else the `berth` remote; a usage error if none. */
export async function requireApp(flag: string | undefined, argument?: string): Promise<string> {
  const app = flag ?? argument ?? (await appOfGitRemote());
  if (!app) {
    throw new UsageError(
      "which app? name it (berth <command> APP), pass --app NAME, or add a 'berth' git remote (berth git:remote APP)",
    );
  }
  return app;
}

/**
 * Splits `[APP] ITEM...` (config set/unset, scale): with --app every argument is an item;
 * else the first argument is the app unless it looks like an item, in which case the app is
 * the `berth` remote's.
 */
export async function appAndItems(
  flag: string | undefined,
  args: readonly string[],
  looksLikeItem: (argument: string, index: number, all: readonly string[]) => boolean,
): Promise<{ app: string; items: string[] }> {
  if (flag) return { app: flag, items: [...args] };
  const [first, ...rest] = args;
  if (first !== undefined && !looksLikeItem(first, 0, args)) return { app: first, items: rest };
  return { app: await requireApp(undefined), items: [...args] };
}
