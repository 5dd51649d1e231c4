// The client commands on commander: parse, run, and turn every failure into one `error:` line
// on stderr and an exit code (1 for the server's errors, 2 for usage).
import { Command, CommanderError } from 'commander';
import {
  registerApps,
  registerConfig,
  registerDeploy,
  registerGitRemote,
  registerKeys,
  registerLogin,
  registerLogs,
  registerOpen,
  registerProcesses,
  registerReleases,
  registerRun,
  registerTokens,
} from './commands/index.js';
import { createContext } from './context.js';
import { CliError, ExitCodes } from './errors.js';

function buildProgram(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const context = createContext(argv, env);
  const program = new Command('berth')
    .description('the Berth client: talks to a Berth server over its API')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });
  registerLogin(program, context);
  registerApps(program, context);
  registerDeploy(program, context);
  registerLogs(program, context);
  registerConfig(program, context);
  registerProcesses(program, context);
  registerReleases(program, context);
  registerRun(program, context);
  registerTokens(program, context);
  registerGitRemote(program, context);
  registerOpen(program, context);
  registerKeys(program, context);
  // Every subcommand stops (rather than exits) on a usage error, so run() decides the code.
  const exitOverride = (command: Command) => {
    command.exitOverride();
    command.configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });
    command.commands.forEach(exitOverride);
  };
  program.commands.forEach(exitOverride);
  return program;
}

/** Runs one client command line; resolves with the exit code. */
export async function runClient(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const program = buildProgram(argv, env);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message (or the help) already.
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.help' ||
        error.code === 'commander.version'
      ) {
        return ExitCodes.ok;
      }
      return ExitCodes.usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    return ExitCodes.failure;
  }
}
