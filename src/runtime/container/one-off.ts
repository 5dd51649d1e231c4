import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { engineErrorStatus, type Engine } from '../../engine/index.js';
import { ErrorCodes, InputError } from '../../errors/index.js';
import type { LogLine, OneOffResult, OneOffSpec } from '../driver.js';
import { OutputTail } from '../unit-logs/index.js';
import { entrypointOf, envList, exitOf, hostConfigOf } from './container-config.js';
import { Labels } from './labels.js';
import { LogCapture } from './log-capture.js';
import { berthVariables } from '../unit-variables.js';

export interface OneOffContainerOptions {
  readonly engine: Engine;
  readonly spec: OneOffSpec;
  readonly image: string;
  readonly network: string;
  readonly pidsLimit: number;
  readonly readOnlyRootFilesystem: boolean;
  readonly rootLabel: string;
  readonly logFile: string;
  readonly logFileLimitBytes: number;
  readonly onLine: (line: LogLine) => void;
  readonly signal: AbortSignal;
}

const POLL_MS = 25;

/**
 * Runs a one-off in a container of its own on the app's network, to its end, its timeout
 * (SIGKILL) or the abort, copying its output to the log and the caller; the container is
 * removed afterwards whatever happened.
 */
export async function runOneOffContainer(options: OneOffContainerOptions): Promise<OneOffResult> {
  const { engine, spec } = options;
  const name = `berth-run-${spec.id}-${randomBytes(3).toString('hex')}`;
  const env = {
    ...spec.env,
    ...berthVariables({
      app: spec.app,
      release: spec.release,
      processType: 'run',
      unitId: spec.id,
    }),
  };
  let container;
  try {
    container = await engine.createContainer({
      name,
      Image: options.image,
      ...entrypointOf(spec.command),
      Env: envList(env),
      Labels: {
        [Labels.root]: options.rootLabel,
        [Labels.kind]: 'one-off',
        [Labels.unit]: spec.id,
        [Labels.app]: spec.app,
        [Labels.release]: String(spec.release),
      },
      HostConfig: hostConfigOf({
        network: options.network,
        limits: spec.limits,
        pidsLimit: options.pidsLimit,
        readOnlyRootFilesystem: options.readOnlyRootFilesystem,
      }),
    });
  } catch (error) {
    if (engineErrorStatus(error) === 404) {
      throw new InputError(
        `the image ${options.image} is not in the engine`,
        ErrorCodes.RUN_INVALID,
      );
    }
    throw error;
  }
  const output = new OutputTail();
  const capture = new LogCapture({
    engine,
    containerName: name,
    file: options.logFile,
    fileLimitBytes: options.logFileLimitBytes,
    target: { app: spec.app, release: spec.release, processType: 'run', index: 1, unitId: spec.id },
    cursor: undefined,
    onCursor: () => undefined,
    onLine: (line) => {
      if (line.stream !== 'system') output.add(`${line.text}\n`);
      options.onLine(line);
    },
  });
  let timedOut = false;
  let ended: string | undefined;
  try {
    await container.start();
    capture.follow();
    const deadline = Date.now() + spec.timeoutMs;
    for (;;) {
      const info = await container.inspect();
      if (!info.State.Running) break;
      if (ended === undefined && (options.signal.aborted || Date.now() >= deadline)) {
        timedOut = !options.signal.aborted;
        ended = timedOut ? `timed out after ${spec.timeoutMs} ms` : 'aborted';
        // The loop sees it stop: no wait() call, which Podman answers late under load.
        await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      }
      await sleep(POLL_MS);
    }
    await capture.catchUp(true).catch(() => undefined);
    const info = await container.inspect();
    const { code, signal } = exitOf(info.State.ExitCode);
    if (ended) capture.system(ended);
    capture.system(`exited (${signal ? `signal ${signal}` : `code ${code}`})`);
    return {
      exitCode: code,
      signal,
      timedOut,
      output: output.text,
      truncated: output.truncated,
    };
  } finally {
    capture.close();
    await container.remove({ force: true }).catch(() => undefined);
  }
}
