import { execFile } from 'node:child_process';

/**
 * The environment every git process of the controller gets: PATH, and no user or system git
 * config (the controller's own environment holds BERTH_MASTER_KEY and is never passed on).
 */
export function gitBaseEnv(home: string): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LANG: 'C',
  };
}

/** Runs `git` with an argument array; rejects with its stderr when it fails. */
export function runGit(
  args: readonly string[],
  options: { readonly env: Record<string, string>; readonly cwd?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      { env: options.env, cwd: options.cwd, maxBuffer: 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`git ${args[0] ?? ''} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}
