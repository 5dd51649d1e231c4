// The client commands on commander: parse, run, and turn every failure into one `error:` line
// on stderr and an exit code (1 for the server's errors, 2 for usage).
import { Command, CommanderError } from 'commander';
import {
  registerAddons,
  registerApps,
  registerConfig,
  registerCron,
  registerDeploy,
  registerDomains,
  registerGitCredential,
  registerGitRemote,
  registerKeys,
  registerKube,
  registerLogin,
  registerLogs,
  registerOpen,
  registerProcesses,
  registerReleases,
  registerRun,
  registerTokens,
} from './commands/index.js';
import { createContext } from './context.js';
import { didYouMean } from '../suggest.js';
import { ApiError, CliError, ExitCodes } from './errors.js';

/**
 * commander's error as one line: its "(Did you mean …?)" suggestion comes on a line of its own,
 * which is kept, joined to the error; anything after (help text) is not.
 */
function oneLine(text: string): string {
  const [first = '', second] = text.split('\n');
  return second?.startsWith('(Did you mean')
    ? `${first} (did you mean ${second.slice('(Did you mean '.length)}\n`
    : `${first}\n`;
}

/**
 * A group whose default subcommand takes no arguments (`apps` → `list`) would hand a mistyped
 * subcommand to it (`apps lst`: "too many arguments for 'list'"); say it is an unknown command,
 * with commander's suggestion, instead.
 */
function refuseUnknownSubcommands(group: Command): void {
  group.hook('preSubcommand', (thisCommand, actionCommand) => {
    const [word] = thisCommand.args;
    const names = thisCommand.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    const takesNoArguments = actionCommand.registeredArguments.length === 0;
    if (word !== undefined && !word.startsWith('-') && !names.includes(word) && takesNoArguments) {
      thisCommand.error(
        `error: unknown command '${thisCommand.name()} ${word}'${didYouMean(word, names)}`,
        { code: 'commander.unknownCommand' },
      );
    }
  });
}

/** The hint for a token the server refuses: where a new one comes from. */
function withLoginHint(error: ApiError, argv: readonly string[], env: NodeJS.ProcessEnv): string {
  if (error.status !== 401 || argv[0] === 'login') return error.message;
  return env['BERTH_TOKEN']
    ? `${error.message}; BERTH_TOKEN is refused: set a valid token, or unset it and run 'berth login'`
    : `${error.message}; run 'berth login' to log in again`;
}

function buildProgram(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const context = createContext(argv, env);
  const program = new Command('berth')
    .description('the Berth client: talks to a Berth server over its API')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(oneLine(text)) });
  registerLogin(program, context);
  registerApps(program, context);
  registerAddons(program, context);
  registerDeploy(program, context);
  registerLogs(program, context);
  registerConfig(program, context);
  registerProcesses(program, context);
  registerReleases(program, context);
  registerRun(program, context);
  registerTokens(program, context);
  registerGitRemote(program, context);
  registerGitCredential(program, context);
  registerOpen(program, context);
  registerKeys(program, context);
  registerKube(program, context);
  registerDomains(program, context);
  // Every subcommand stops (rather than exits) on a usage error, so run() decides the code.
  registerCron(program, context);
  const exitOverride = (command: Command) => {
    command.exitOverride();
    command.configureOutput({ outputError: (text, write) => write(oneLine(text)) });
    if (command.commands.length > 0) refuseUnknownSubcommands(command);
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
    if (error instanceof ApiError) {
      process.stderr.write(`error: ${withLoginHint(error, argv, env)}\n`);
      return error.exitCode;
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
