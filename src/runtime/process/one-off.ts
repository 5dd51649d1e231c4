import { spawn } from 'node:child_process';
import type { LogLine, OneOffResult, OneOffSpec } from '../driver.js';
import { LineSplitter, OutputTail, type RotatingLogFile } from '../unit-logs/index.js';
import type { ProcessJail } from './app-sandbox.js';
import { sendSignal } from './proc-table.js';
import { commandArgv, unitEnvironment } from './unit-env.js';

/** After the process exits, how long its pipes may stay open (held by what it spawned). */
const PIPE_DRAIN_MS = 1000;

/**
 * Runs a one-off process in its own group (and, where the jail has one, its own control
 * group), as a direct child of the controller: it is not supervised, and it ends (the whole
 * group and everything in its control group, by SIGKILL) on timeout, on abort, or when its
 * main process exits, so nothing it started outlives it, not even what left the group.
 */
export function runOneOff(
  spec: OneOffSpec,
  cwd: string,
  jail: ProcessJail,
  log: RotatingLogFile,
  onLine: (line: LogLine) => void,
  signal: AbortSignal,
): Promise<OneOffResult> {
  const [file, ...args] = jail.wrap(commandArgv(spec.command));
  const env = unitEnvironment(
    { ...jail.env, ...spec.env },
    {
      app: spec.app,
      release: spec.release,
      processType: 'run',
      unitId: spec.id,
    },
  );
  if (env['PATH'] !== undefined) env['PATH'] = jail.reachablePath(env['PATH']);
  const output = new OutputTail();
  const write = (stream: LogLine['stream'], text: string): void => {
    const line: LogLine = {
      at: new Date().toISOString(),
      app: spec.app,
      release: spec.release,
      processType: 'run',
      index: 1,
      unitId: spec.id,
      stream,
      text,
    };
    log.append(JSON.stringify(line));
    onLine(line);
  };

  return new Promise((resolve) => {
    let timedOut = false;
    let settled = false;
    const child = spawn(file, args, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killGroup = () => {
      if (child.pid !== undefined) sendSignal(-child.pid, 'SIGKILL');
      void jail.cgroup?.killAll();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      write('system', `timed out after ${spec.timeoutMs} ms`);
      killGroup();
    }, spec.timeoutMs);
    const onAbort = () => {
      write('system', 'aborted');
      killGroup();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();

    const open = new Set<LineSplitter>();
    for (const stream of ['stdout', 'stderr'] as const) {
      const pipe = child[stream];
      const splitter = new LineSplitter((text) => write(stream, text));
      open.add(splitter);
      pipe.setEncoding('utf8');
      pipe.on('data', (chunk: string) => {
        output.add(chunk);
        splitter.push(chunk);
      });
      pipe.on('close', () => splitter.flush());
    }

    const finish = (exitCode: number | null, exitSignal: string | null, reason?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      write(
        'system',
        reason ?? `exited (${exitSignal ? `signal ${exitSignal}` : `code ${exitCode}`})`,
      );
      resolve({
        exitCode,
        signal: exitSignal,
        timedOut,
        output: output.text,
        truncated: output.truncated,
      });
    };
    child.on('error', (error) => {
      if (child.pid === undefined) finish(null, null, `could not start: ${error.message}`);
    });
    child.on('exit', (code, exitSignal) => {
      killGroup();
      // Wait for the pipes to drain, but not for a grandchild that kept them open.
      const drained = setTimeout(() => finish(code, exitSignal), PIPE_DRAIN_MS);
      child.on('close', () => {
        clearTimeout(drained);
        finish(code, exitSignal);
      });
    });
  });
}
