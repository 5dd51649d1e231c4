import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { BuildFailure, BuildFailureReasons } from './build-failure.js';
import { LastLines, LineSplitter } from './output-lines.js';

/** One command of a build: a short name for messages, and the argument vector to run. */
export interface BuildCommand {
  /** How messages and results name it: 'npm ci', 'pip install'. */
  readonly name: string;
  readonly argv: readonly [string, ...string[]];
  /**
   * Set on the commands that fetch packages (npm ci, npm install, pip install): when one
   * fails and its last lines say the registry did not answer, the failure is retryable. The
   * app's own build script never is, whatever it prints.
   */
  readonly fetchesPackages?: boolean;
}

/** What a command runs with; the deadline is shared by every command of one build. */
export interface CommandContext {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** `Date.now()` after which the build has timed out. */
  readonly deadline: number;
  /** The whole build's limit, for the timeout message. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** Puts the command inside the app's sandbox (its own uid, control group); none by default. */
  readonly wrap?: (argv: readonly string[]) => [string, ...string[]];
  /** Text for the command's stdin; without it stdin is empty. */
  readonly input?: string;
}

/** How long a process group has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 5000;

/**
 * After the command's own process has exited, how long its output pipes may stay open. Only a
 * process that left the group (setsid) can still hold them, and the build does not wait for it.
 */
const PIPE_CLOSE_WAIT_MS = 2000;

/**
 * Runs one build command in its own process group, passing its output on line by line, and
 * resolves when it exited with code 0. The group is what gets signalled, because `npm run`
 * starts a shell that starts the script that may start more: killing only npm would leave the
 * rest running in the slug. Throws BuildFailure when the command fails, cannot start, runs
 * past the deadline or is aborted. Whatever the outcome, no process of the group is left.
 */
export async function runCommand(command: BuildCommand, context: CommandContext): Promise<void> {
  const last = new LastLines();
  const output = (line: string): void => {
    last.push(line);
    context.log(line);
  };
  const [file, ...args] = context.wrap ? context.wrap(command.argv) : command.argv;
  // detached: the child calls setsid(), so it leads a new process group whose id is its pid.
  const child = spawn(file, args, {
    cwd: context.cwd,
    env: context.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Without input, stdin is at its end at once. A command that exits without reading all of
  // it must not fail the write (EPIPE).
  child.stdin.on('error', () => undefined);
  child.stdin.end(context.input ?? '');
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // 'error' comes instead of 'exit' when the process could not be started: spawnError below
  // reports it, so exited's rejection is handled here only to not be unhandled.
  exited.catch(() => undefined);
  const spawnError = once(child, 'spawn').then(
    () => null,
    (error: unknown) => error,
  );
  const streams = [child.stdout, child.stderr].map((stream) => {
    const splitter = new LineSplitter(output);
    stream.on('data', (chunk: Buffer) => splitter.write(chunk));
    return new Promise<void>((resolve) => {
      stream.once('close', () => {
        splitter.end();
        resolve();
      });
    });
  });

  const startError = await spawnError;
  if (startError !== null || child.pid === undefined) {
    const detail = startError instanceof Error ? startError.message : 'no process id';
    throw new BuildFailure(
      BuildFailureReasons.COMMAND_NOT_FOUND,
      `${command.name} could not be started (${detail}); is ${file} installed on the host?`,
    );
  }
  const group = child.pid;

  const outputClosed = Promise.all(streams);
  let stopReason: 'timeout' | 'aborted' | undefined;
  let stopping: Promise<void> | undefined;
  let leaderGone = false;
  const stop = (reason: 'timeout' | 'aborted'): void => {
    if (stopReason !== undefined || leaderGone) return;
    stopReason = reason;
    // SIGTERM first: npm forwards it to its script, and a script may clean up. The group is
    // done when the leader has exited and every pipe is closed (every process holding one has
    // exited); counting the group's processes instead would count unreaped zombies.
    signalGroup(group, 'SIGTERM');
    stopping = settleWithin(Promise.all([exited, outputClosed]), KILL_GRACE_MS).then(() => {
      signalGroup(group, 'SIGKILL');
    });
  };
  const timer = setTimeout(() => stop('timeout'), Math.max(0, context.deadline - Date.now()));
  const onAbort = (): void => stop('aborted');
  context.signal.addEventListener('abort', onAbort, { once: true });
  if (context.signal.aborted) onAbort();

  let code: number | null;
  let killedBy: NodeJS.Signals | null;
  try {
    [code, killedBy] = await exited;
  } finally {
    leaderGone = true;
    clearTimeout(timer);
    context.signal.removeEventListener('abort', onAbort);
  }
  await stopping;
  // After a normal exit, whatever the command left running in its group (a forgotten `&`, a
  // watcher) is not part of a finished build, and must not keep running in the slug.
  signalGroup(group, 'SIGKILL');
  await settleWithin(outputClosed, PIPE_CLOSE_WAIT_MS);
  child.stdout.destroy();
  child.stderr.destroy();

  if (stopReason === 'timeout') {
    throw new BuildFailure(
      BuildFailureReasons.TIMED_OUT,
      `the build timed out after ${formatSeconds(context.timeoutMs)} (during ${command.name})`,
      last.lines,
    );
  }
  if (stopReason === 'aborted') {
    throw new BuildFailure(
      BuildFailureReasons.ABORTED,
      `the build was stopped during ${command.name} (the deployment was cancelled or the controller is stopping)`,
      last.lines,
    );
  }
  if (code !== 0) {
    const how =
      code === null ? `was killed by ${killedBy ?? 'a signal'}` : `exited with code ${code}`;
    const unreachable = command.fetchesPackages === true && registryUnreachable(last.lines);
    throw new BuildFailure(
      BuildFailureReasons.COMMAND_FAILED,
      `${command.name} ${how}${unreachable ? ' (the package registry did not answer)' : ''}`,
      last.lines,
      { retryable: unreachable },
    );
  }
}

/**
 * How npm and pip say that a registry did not answer: npm's own error code line (not a
 * lifecycle script's output), pip's connection errors after its own retries.
 */
const REGISTRY_UNREACHABLE = [
  /^npm (?:ERR!|error) (?:code|errno) (?:ETIMEDOUT|ECONNREFUSED|ECONNRESET|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH)\b/,
  /(?:ReadTimeoutError|NewConnectionError|ConnectTimeoutError|Temporary failure in name resolution)/,
];

/** Whether a package-fetching command's last lines say its registry did not answer. */
export function registryUnreachable(lines: readonly string[]): boolean {
  return lines.some((line) => REGISTRY_UNREACHABLE.some((pattern) => pattern.test(line)));
}

/** Signals every process of a group; false when the group has no process left. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    // ESRCH: the group is empty. EPERM cannot happen for a group this process started.
    return false;
  }
}

function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}

/** 600000 → '600 s', 1500 → '1.5 s'. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
