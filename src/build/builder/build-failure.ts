/**
 * Why a build failed. A reason keeps its meaning forever; a new meaning gets a new reason.
 * The deploy step matches on these, never on messages.
 */
export const BuildFailureReasons = Object.freeze({
  /** A build command exited with a non-zero code or was killed by a signal of its own. */
  COMMAND_FAILED: 'COMMAND_FAILED',
  /** A build command could not be started at all (npm or python3 missing on the host). */
  COMMAND_NOT_FOUND: 'COMMAND_NOT_FOUND',
  /** The whole build ran longer than its time limit. */
  TIMED_OUT: 'TIMED_OUT',
  /** The caller's signal stopped the build: a cancelled task, a lost lease, a shutdown. */
  ABORTED: 'ABORTED',
  /** The project cannot be built by this builder (a Dockerfile on the process runtime). */
  UNSUPPORTED_STACK: 'UNSUPPORTED_STACK',
  /** A project file the build reads (package.json) is unreadable or not valid JSON. */
  INVALID_PROJECT: 'INVALID_PROJECT',
  /**
   * The container engine failed an image build: a failing RUN step, a Dockerfile it rejects,
   * a base image it does not have and cannot pull.
   */
  IMAGE_BUILD_FAILED: 'IMAGE_BUILD_FAILED',
} as const);
export type BuildFailureReason = (typeof BuildFailureReasons)[keyof typeof BuildFailureReasons];

/**
 * A slug could not be built. The message is written for the person who deployed (it becomes
 * the task's error); `lastLines` are the last output lines of the failing command, which is
 * usually where npm and pip say what went wrong. `retryable` says whether the same bundle
 * could build if run again: an aborted build, or one whose package or image registry did not
 * answer (the thrower knows, from what failed). Otherwise the same bundle fails the same way
 * again, and a build that timed out would time out again. The deployer reads it.
 */
export class BuildFailure extends Error {
  override readonly name = 'BuildFailure';
  readonly reason: BuildFailureReason;
  readonly lastLines: readonly string[];
  readonly retryable: boolean;

  constructor(
    reason: BuildFailureReason,
    message: string,
    lastLines: readonly string[] = [],
    options: { readonly retryable?: boolean } = {},
  ) {
    super(message);
    this.reason = reason;
    this.lastLines = Object.freeze([...lastLines]);
    this.retryable = reason === BuildFailureReasons.ABORTED || options.retryable === true;
  }
}

/** How many of a failed build's last lines its message shows; the deploy log has them all. */
export const FAILURE_TAIL_LINES = 10;

/**
 * A failed build as one message for the person who deployed: what failed, then its last
 * output lines once each, leaving out what the first line already says (an engine's error
 * line repeats it word for word).
 */
export function describeBuildFailure(failure: BuildFailure): string {
  const head = `build failed: ${failure.message}`;
  const tail = failure.lastLines
    .filter((line) => !failure.message.includes(line.replace(/^error: /, '')))
    .slice(-FAILURE_TAIL_LINES);
  return tail.length === 0 ? head : `${head}\nlast lines of the build:\n${tail.join('\n')}`;
}
