/** Why a stack image build failed; a stable tag to match on, never the message. */
export const StackBuildFailureReasons = Object.freeze({
  /** debootstrap needs root (it creates device nodes and chroots). */
  NOT_ROOT: 'not-root',
  /** A tool the build runs (debootstrap, tar) is not installed. */
  TOOL_MISSING: 'tool-missing',
  /** No Debian mirror was given and none is in the machine's apt sources. */
  NO_MIRROR: 'no-mirror',
  /** debootstrap exited non-zero: a mirror that does not answer, a package that is missing. */
  DEBOOTSTRAP_FAILED: 'debootstrap-failed',
  /** The finished root filesystem does not run what it must (node -v, npm -v, import venv). */
  VERIFY_FAILED: 'verify-failed',
  /** The engine did not take the image. */
  IMPORT_FAILED: 'import-failed',
} as const);
export type StackBuildFailureReason =
  (typeof StackBuildFailureReasons)[keyof typeof StackBuildFailureReasons];

/** Retrying may help only when the network or the engine was at fault. */
const RETRYABLE: ReadonlySet<StackBuildFailureReason> = new Set([
  StackBuildFailureReasons.DEBOOTSTRAP_FAILED,
  StackBuildFailureReasons.IMPORT_FAILED,
]);

/** A stack image could not be built; `lastLines` holds the tail of the failing tool's log. */
export class StackBuildError extends Error {
  override readonly name = 'StackBuildError';
  readonly reason: StackBuildFailureReason;
  /** The image this failure is about, when it is about one. */
  readonly image: string | undefined;
  readonly lastLines: readonly string[];
  readonly retryable: boolean;

  constructor(
    reason: StackBuildFailureReason,
    message: string,
    details: { image?: string; lastLines?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.image = details.image;
    this.lastLines = Object.freeze([...(details.lastLines ?? [])]);
    this.retryable = RETRYABLE.has(reason);
  }
}
