// Runs the real `berth` client (bin/berth.js) as a child process for the CLI tests: with its
// own config dir, optional stdin, a working directory, and a handle for long-running follows.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BERTH_BIN } from './server-process.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  readonly cwd?: string;
}

/** A fresh XDG_CONFIG_HOME, so a test's login is its own. */
export function freshConfigHome(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'berth-cli-config-'));
}

/** Environment without the caller's BERTH_* overrides (a developer's shell may set them). */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('BERTH_') && key !== 'NO_COLOR') env[key] = value;
  }
  return { ...env, ...extra };
}

/** Starts `berth ARGS` and returns the child with its output so far. */
export function startCli(
  args: string[],
  options: CliOptions = {},
): { child: ChildProcess; output: () => CliResult; exited: Promise<CliResult> } {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], {
    env: cleanEnv(options.env ?? {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin?.end(options.input ?? '');
  const exited = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, output: () => ({ code: child.exitCode, stdout, stderr }), exited };
}

/** Runs `berth ARGS` to completion. */
export function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).exited;
}
