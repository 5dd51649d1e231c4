// `berth run APP -- CMD ARGS...`: a one-off process of the live release; its output, then its
// exit code as berth's.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { requireApp } from '../app-name.js';
import { UsageError } from '../errors.js';
import { note, printJson } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

interface RunResult {
  readonly release: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly output: string;
  readonly truncated: boolean;
}

export function registerRun(program: Command, context: CliContext): void {
  const run = program
    .command('run')
    .description("run a command once in the app's live release, with its config")
    .argument(
      '[args...]',
      '[APP] -- COMMAND ARGS... (APP: default --app or the berth git remote; berth run options go before APP)',
    )
    .option('-a, --app <name>', 'the app')
    .option('--timeout <seconds>', 'stop the command after this long (default 600)')
    .option('--json', 'print the result as JSON')
    .passThroughOptions()
    .action(
      async (
        args: string[],
        options: { app?: string; timeout?: string; json?: boolean },
        command: Command,
      ) => {
        // What follows the first `--` typed is the command, untouched. commander drops a `--`
        // that comes before every argument (`berth run -- node -v`), so the raw command line
        // says where the command starts; before it, at most the app.
        const separator = context.argv.indexOf('--');
        let before: string[];
        let argv: string[];
        if (separator >= 0) {
          argv = context.argv.slice(separator + 1);
          before = args.slice(0, args.length - argv.length).filter((a) => a !== '--');
        } else {
          before = options.app ? [] : args.slice(0, 1);
          argv = options.app ? args : args.slice(1);
        }
        if (before.length > 1)
          throw new UsageError(`run takes [APP] -- COMMAND, got '${before.join(' ')}' before --`);
        if (argv.length === 0)
          throw new UsageError(`run needs a command: ${command.name()} [APP] -- COMMAND ARGS...`);
        let timeoutSeconds: number | undefined;
        if (options.timeout !== undefined) {
          timeoutSeconds = Number(options.timeout);
          if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
            throw new UsageError(`--timeout takes whole seconds, got '${options.timeout}'`);
          }
        }
        const app = await requireApp(options.app, before[0]);
        const client = await context.client();
        const result = await client.post<RunResult>(`${appPath(app)}/run`, {
          command: argv,
          ...(timeoutSeconds ? { timeoutSeconds } : {}),
        });
        if (options.json) printJson(result);
        else {
          process.stdout.write(result.output);
          if (result.truncated) note('(output truncated)');
          if (result.timedOut) note(`timed out; stopped with ${result.signal ?? 'a signal'}`);
          else if (result.signal) note(`ended by ${result.signal}`);
        }
        process.exitCode = result.exitCode ?? 1;
      },
    );
  withExamples(
    run,
    'berth run shop -- node -e "console.log(process.version)"',
    'berth run shop -- ls -la',
    "berth run -- node -v   (in the app's checkout: the app of its berth git remote)",
  );
}
