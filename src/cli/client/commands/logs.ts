// `berth logs APP [-f] [--process TYPE] [--tail N]`: recent lines over HTTP, then (with -f)
// every new line over the WebSocket API until Ctrl-C.
import type { Command } from 'commander';
import { WebSocket } from 'ws';
import { appPath, type ApiClient } from '../api-client.js';
import { requireApp } from '../app-name.js';
import { ApiError, CliError, NetworkError, UsageError } from '../errors.js';
import { colour, line } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

/** A log line as the API shows it. */
export interface LogLine {
  readonly at: string;
  readonly type: string;
  readonly index: number;
  readonly unit: string;
  readonly release: number;
  readonly stream: string;
  readonly text: string;
}

interface LogsOptions {
  readonly app?: string;
  readonly follow?: boolean;
  readonly process?: string;
  readonly tail: string;
  readonly json?: boolean;
}

function printLine(entry: LogLine, json: boolean): void {
  if (json) return line(JSON.stringify(entry));
  // The release first: during a rollout two releases' units log side by side.
  const source = `v${entry.release} ${entry.type}.${entry.index}`;
  const text = entry.stream === 'system' ? colour.dim(entry.text) : entry.text;
  line(`${colour.dim(entry.at)} ${colour.cyan(source)}: ${text}`);
}

/** Follows the app's log over the WebSocket API; resolves on Ctrl-C, rejects when cut off. */
function follow(
  client: ApiClient,
  app: string,
  processType: string | undefined,
  json: boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(client.webSocketUrl);
    let stopping = false;
    const stop = () => {
      stopping = true;
      socket.close(1000);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const fail = (error: Error) => {
      stopping = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      socket.terminate();
      reject(error);
    };
    socket.on('open', () => {
      socket.send(JSON.stringify({ id: 1, method: 'login', params: { token: client.token } }));
      socket.send(
        JSON.stringify({
          id: 2,
          method: 'logs',
          params: { app, ...(processType ? { process: processType } : {}) },
        }),
      );
    });
    socket.on('message', (data: Buffer) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      const error = message['error'] as { code?: string; message?: string } | undefined;
      if (error) {
        fail(new ApiError(0, error.code ?? 'WS_ERROR', error.message ?? 'the log stream failed'));
        return;
      }
      const event = message['event'] as (LogLine & { kind?: string }) | undefined;
      if (event?.kind === 'log') {
        const { kind: _kind, ...entry } = event;
        printLine(entry, json);
      }
    });
    socket.on('error', (error: Error) =>
      fail(new NetworkError(client.server, (error as NodeJS.ErrnoException).code ?? error.message)),
    );
    socket.on('close', (code: number, reason: Buffer) => {
      if (stopping) return;
      fail(
        new CliError(
          `the log stream closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`,
        ),
      );
    });
  });
}

export function registerLogs(program: Command, context: CliContext): void {
  const logs = program
    .command('logs')
    .description("an app's recent log lines; -f follows new ones")
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('-p, --process <type>', 'only this process type (web, worker, …)')
    .option('-n, --tail <n>', 'how many recent lines (at most 10000)', '100')
    .option('--json', 'one JSON object per line')
    .action(async (argument: string | undefined, options: LogsOptions) => {
      if (!/^\d{1,5}$/.test(options.tail))
        throw new UsageError(`--tail takes a number, got '${options.tail}'`);
      const app = await requireApp(options.app, argument);
      const client = await context.client();
      const recent = await client.get<LogLine[]>(`${appPath(app)}/logs`, {
        tail: options.tail,
        process: options.process,
      });
      for (const entry of recent) printLine(entry, options.json === true);
      if (options.follow) await follow(client, app, options.process, options.json === true);
    });
  withExamples(logs, 'berth logs shop --tail 20', 'berth logs shop -f --process web');
}
