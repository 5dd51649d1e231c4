// Sends a command line to the client (commands that talk to the API) or to the server's own
// commands (server, router, down, stacks, version). Each side is loaded only when used, so a
// client command does not load the server.

/** The client's command names; kept here so dispatching loads neither side. */
const CLIENT_COMMANDS = new Set([
  'login',
  'apps',
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
  'open',
  'keys',
]);

/** Runs the command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  if (command !== undefined && CLIENT_COMMANDS.has(command)) {
    const { runClient } = await import('./client/index.js');
    return runClient(argv);
  }
  const { main: serverMain } = await import('./main.js');
  return serverMain(argv);
}
