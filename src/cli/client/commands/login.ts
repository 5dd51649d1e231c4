// `berth login [SERVER]`: a token (--token), a username and a password (--password-stdin or
// asked on a terminal) → saved {server, token}.
import type { Command } from 'commander';
import { ApiClient, normaliseServer } from '../api-client.js';
import { UsageError } from '../errors.js';
import { DEFAULT_SERVER, readLogin, saveLogin } from '../login-store.js';
import { line } from '../output.js';
import { ask, canPrompt, readStdin } from '../prompt.js';
import { withExamples, type CliContext } from '../context.js';

/** The server refuses longer passwords (src/domain/identity/validation.ts); so does the CLI. */
const MAX_PASSWORD_BYTES = 1024;

interface LoginOptions {
  readonly token?: string;
  readonly username?: string;
  readonly passwordStdin?: boolean;
}

export function registerLogin(program: Command, context: CliContext): void {
  const login = program
    .command('login')
    .description('log in to a Berth server and save the token (0600) for the other commands')
    .argument(
      '[server]',
      `the server's URL (default: BERTH_SERVER, the saved one, ${DEFAULT_SERVER})`,
    )
    .option('--token <token>', 'an API token to save instead of logging in with a password')
    .option('--username <name>', 'log in as this user')
    .option('--password-stdin', 'read the password from stdin (for scripts)')
    .action(async (serverArgument: string | undefined, options: LoginOptions) => {
      const saved = await readLogin(context.env);
      let server: string;
      try {
        server = normaliseServer(
          serverArgument ?? context.env['BERTH_SERVER'] ?? saved?.server ?? DEFAULT_SERVER,
        );
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      let token = options.token;
      if (token !== undefined && (options.username !== undefined || options.passwordStdin)) {
        throw new UsageError('--token and --username/--password-stdin do not go together');
      }
      if (token === undefined) {
        let username = options.username;
        let password: string;
        if (options.passwordStdin) {
          if (username === undefined) throw new UsageError('--password-stdin needs --username');
          password = await readStdin();
        } else {
          if (!canPrompt()) {
            throw new UsageError(
              'no terminal to ask for a password: use --token TOKEN or --username NAME --password-stdin',
            );
          }
          username ??= (await ask('username: ')).trim();
          password = await ask('password: ', { hidden: true });
        }
        if (!username || !password) throw new UsageError('a username and a password are needed');
        if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
          throw new UsageError(`a password has at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`);
        }
        const reply = await new ApiClient({ server }).post<{ token: string }>('/auth/login', {
          username,
          password,
        });
        token = reply.token;
      } else {
        // Check the token before saving it: a typo should fail now, not at the next command.
        await new ApiClient({ server, token }).get('/tokens');
      }
      const file = await saveLogin({ server, token }, context.env);
      line(
        `logged in to ${server}${options.username ? ` as ${options.username}` : ''} (saved in ${file})`,
      );
    });
  withExamples(
    login,
    'berth login http://127.0.0.1:7100',
    'berth login http://berth.example.com:7100 --token "$BERTH_ADMIN_TOKEN"',
    'printf %s "$PASSWORD" | berth login http://127.0.0.1:7100 --username admin --password-stdin',
  );
}
