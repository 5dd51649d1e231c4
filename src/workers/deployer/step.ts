import type { App } from '../../domain/apps/index.js';
import type { Deployment } from '../../domain/deployments/index.js';
import type { ProcessCommands } from '../../domain/releases/index.js';

/** What a step learns and passes on to the steps after it. */
export interface PipelineState {
  /** The extracted source of the bundle. */
  sourceDir?: string;
  stack?: string;
  processes?: ProcessCommands;
  formation?: Readonly<Record<string, number>>;
  artifactId?: string;
  releaseVersion?: number;
}

/** What a step may use while it runs. */
export interface StepContext {
  readonly deployment: Deployment;
  readonly app: App;
  /** A directory of this task's own, removed when the task ends. */
  readonly workDir: string;
  /** Aborted when the task is cancelled, its lease is lost or the controller stops. */
  readonly signal: AbortSignal;
  readonly state: PipelineState;
  /** Adds a line to the task's step log (never a config value). */
  log(line: string): void;
  /** Records what the task found out about the project, visible in the record at once. */
  report(details: {
    processErrors?: Readonly<Record<string, string | null>>;
    projectMetadata?: Readonly<Record<string, unknown>>;
    stack?: string;
  }): Promise<void>;
}

/** One step of a task's pipeline. Steps are pluggable: rollout slots in after release. */
export interface DeployStep {
  readonly name: string;
  run(context: StepContext): Promise<void>;
}

/**
 * A step failed for a reason the user can act on; its message becomes the task's error.
 * `retryable` says whether running the task again unchanged could succeed (a timeout, a lost
 * engine) or not (a bad bundle, a failing build).
 */
export class StepFailure extends Error {
  override readonly name = 'StepFailure';
  readonly retryable: boolean;
  readonly processErrors: Readonly<Record<string, string | null>> | undefined;

  constructor(
    message: string,
    options: { retryable?: boolean; processErrors?: Readonly<Record<string, string | null>> } = {},
  ) {
    super(message);
    this.retryable = options.retryable ?? false;
    this.processErrors = options.processErrors;
  }
}
