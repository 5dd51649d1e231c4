// Sends a command line to the client (commands that talk to the API) or to the server's own
// commands (server, router, down, stacks). Each side is loaded only when used, so a client
// command does not load the server; help, the version and a mistyped command load neither.
import { didYouMean } from './suggest.js';
import { COMMAND_USAGE, packageVersion, USAGE } from './usage.js';

/** The client's command names; kept here so dispatching loads neither side. */
const CLIENT_COMMANDS = new Set([
  'login',
  'apps',
  'addons',
  'deploy',
  'logs',
  'config',
  'scale',
  'ps',
  'releases',
  'rollback',
  'run',
  'tokens',
  'git:remote',
  'git:credential',
  'open',
  'keys',
  'kube',
  'domains',
  'maintenance',
  'cron',
]);

function isServerCommand(command: string): command is keyof typeof COMMAND_USAGE {
  return Object.hasOwn(COMMAND_USAGE, command);
}

/** Runs the command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'version':
    case '--version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
  }
  if (CLIENT_COMMANDS.has(command)) {
    const { runClient } = await import('./client/index.js');
    return runClient(argv);
  }
  if (!isServerCommand(command)) {
    const known = [...CLIENT_COMMANDS, ...Object.keys(COMMAND_USAGE), 'help', 'version'];
    process.stderr.write(
      `berth: unknown command '${command}'${didYouMean(command, known)}; run 'berth help'\n`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(COMMAND_USAGE[command]);
    return 0;
  }
  const { runServerCommand } = await import('./main.js');
  return runServerCommand(command, rest);
}
