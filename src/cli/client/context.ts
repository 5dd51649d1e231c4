// What every client command gets: the environment, the raw arguments and a way to an API
// client for the saved (or overridden) login.
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { NotLoggedInError } from './errors.js';
import { resolveTarget } from './login-store.js';

/** Shared by the commands of one run. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  /** The arguments after `berth`, as typed (for `run APP -- CMD`). */
  readonly argv: readonly string[];
  /** A client with a token; NotLoggedInError when there is none. */
  client(): Promise<ApiClient>;
}

export function createContext(argv: readonly string[], env: NodeJS.ProcessEnv): CliContext {
  return {
    env,
    argv,
    async client() {
      const target = await resolveTarget(env);
      if (!target.token) throw new NotLoggedInError();
      return new ApiClient(target);
    },
  };
}

/** Adds `Example:` lines to a command's --help. */
export function withExamples(command: Command, ...examples: string[]): Command {
  return command.addHelpText(
    'after',
    `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`,
  );
}

/** Options most commands take. */
export interface AppOptions {
  readonly app?: string;
  readonly json?: boolean;
}
