// `berth keys`: SSH keys for git over SSH. The server has no keys API yet; the command asks the
// server and says so rather than pretending.
import type { Command } from 'commander';
import { ApiError, CliError } from '../errors.js';
import { printJson } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

export function registerKeys(program: Command, context: CliContext): void {
  const keys = program
    .command('keys')
    .description('SSH keys for git push over SSH (when the server offers them)')
    .argument('[args...]', 'add FILE | list | remove ID (to come)')
    .option('--json', 'print JSON')
    .allowUnknownOption()
    .action(async () => {
      const client = await context.client();
      let listed: unknown;
      try {
        listed = await client.get<unknown>('/keys');
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          throw new CliError(
            `NOT_AVAILABLE: SSH keys are not available on this server yet (${client.server} has no /keys API)`,
          );
        }
        throw error;
      }
      // A server that has the keys API: show what it says; add/remove come with its contract.
      printJson(listed);
    });
  withExamples(keys, 'berth keys list');
}
