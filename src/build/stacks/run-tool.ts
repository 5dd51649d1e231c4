import { spawn } from 'node:child_process';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';

/** How many lines of a failing tool's output an error keeps. */
export const LAST_LINES = 20;

/** What a finished tool printed and how it ended. */
export interface ToolResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last LAST_LINES lines of stdout and stderr together, in arrival order. */
  readonly lastLines: readonly string[];
  readonly stdout: string;
}

/**
 * Runs `file` with an argument array (never a shell) and keeps the tail of its output. A tool
 * that is not installed fails with TOOL_MISSING naming the Debian package to install.
 */
export function runTool(
  file: string,
  args: readonly string[],
  options: { debianPackage: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const lines: string[] = [];
    let stdout = '';
    let partial = { stdout: '', stderr: '' };
    const take = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      const text = partial[stream] + chunk.toString('utf8');
      if (stream === 'stdout' && stdout.length < 65_536) stdout += chunk.toString('utf8');
      const parts = text.split('\n');
      partial = { ...partial, [stream]: parts.pop() ?? '' };
      for (const line of parts) if (line.trim()) lines.push(line);
      if (lines.length > LAST_LINES) lines.splice(0, lines.length - LAST_LINES);
    };
    child.stdout.on('data', (chunk: Buffer) => take('stdout', chunk));
    child.stderr.on('data', (chunk: Buffer) => take('stderr', chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(
          new StackBuildError(
            StackBuildFailureReasons.TOOL_MISSING,
            `${file} is not installed (apt-get install -y ${options.debianPackage})`,
            { cause: error },
          ),
        );
      } else reject(error);
    });
    child.once('close', (code, signal) => {
      for (const rest of [partial.stdout, partial.stderr]) if (rest.trim()) lines.push(rest);
      resolve({ code, signal, lastLines: lines.slice(-LAST_LINES), stdout });
    });
  });
}
