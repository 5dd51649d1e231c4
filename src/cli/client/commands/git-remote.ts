// `berth git:remote APP`: adds (or points) the repo's `berth` remote at the server's git URL,
// with `berth git:credential` as git's credential helper for that URL.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { requireApp } from '../app-name.js';
import { CliError } from '../errors.js';
import { resolveTarget } from '../login-store.js';
import { line } from '../output.js';
import { withExamples, type CliContext } from '../context.js';
import { credentialHelperValue } from './git-credential.js';

const git = promisify(execFile);

export function registerGitRemote(program: Command, context: CliContext): void {
  const command = program
    .command('git:remote')
    .description(
      "add a git remote for pushing the app's code (git push berth main), signed in with your login",
    )
    .argument('[app]', 'the app')
    .option('-a, --app <name>', 'the app')
    .option('-r, --remote <name>', 'the remote name', 'berth')
    .action(async (argument: string | undefined, options: { app?: string; remote: string }) => {
      const app = await requireApp(options.app, argument);
      // The app must exist: a remote to nowhere only fails later, at push time.
      const client = await context.client();
      await client.get(`/apps/${encodeURIComponent(app)}`);
      const { server } = await resolveTarget(context.env);
      const url = `${server}/git/${app}.git`;
      const existing = await git('git', ['remote', 'get-url', options.remote]).then(
        ({ stdout }) => stdout.trim(),
        () => undefined,
      );
      // git asks the helper for this URL only. The empty value first drops the helpers other
      // config names for it (a global `store` would copy the token into ~/.git-credentials).
      const helperKey = `credential.${url}.helper`;
      try {
        if (existing === undefined) await git('git', ['remote', 'add', options.remote, url]);
        else if (existing !== url) await git('git', ['remote', 'set-url', options.remote, url]);
        await git('git', ['config', '--local', '--replace-all', helperKey, '']);
        await git('git', ['config', '--local', '--add', helperKey, credentialHelperValue()]);
      } catch (error) {
        const { stderr } = error as { stderr?: unknown };
        const text = (
          typeof stderr === 'string' && stderr ? stderr : (error as Error).message
        ).trim();
        throw new CliError(`git: ${text.split('\n')[0] ?? 'failed'}`);
      }
      line(`${existing === undefined ? 'added' : 'set'} git remote ${options.remote} → ${url}`);
      line(`git push ${options.remote} main signs in with your berth login (berth git:credential)`);
    });
  withExamples(command, 'berth git:remote shop && git push berth main');
}
