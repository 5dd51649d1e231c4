import type { GitService } from './services.js';

/** The app name a repository path may carry (the apps' name rule). */
const COMMAND = /^(git-receive-pack|git-upload-pack) '\/?([a-z][a-z0-9-]{0,38})(?:\.git)?'$/;

/**
 * What an exec request asks: `git-receive-pack '<app>.git'` or `git-upload-pack '<app>.git'`
 * (`/app.git`, `app.git` and `app` accepted), nothing else.
 */
export function parseGitCommand(
  command: string,
): { readonly service: GitService; readonly app: string } | undefined {
  const match = COMMAND.exec(command);
  if (!match) return undefined;
  return { service: match[1] as GitService, app: match[2] as string };
}
