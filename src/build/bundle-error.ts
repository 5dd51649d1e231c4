import { BerthError, ErrorCodes, type ErrorKind } from '../errors/index.js';

/**
 * Why a bundle was refused. A reason keeps its meaning forever; a new meaning gets a new
 * reason. Clients match on these (under the error's `code`, BUNDLE_INVALID), never on messages.
 */
export const BundleErrorReasons = Object.freeze({
  /** The bytes are not a zip, tar.gz or tar archive (detected by content, not by name). */
  NOT_AN_ARCHIVE: 'NOT_AN_ARCHIVE',
  /** The archive is truncated or damaged: a bad checksum, a cut-off stream, a broken header. */
  CORRUPT_ARCHIVE: 'CORRUPT_ARCHIVE',
  /** The archive holds no file at all. */
  EMPTY_BUNDLE: 'EMPTY_BUNDLE',
  /** An entry's path has a `..` component. */
  PATH_ESCAPES: 'PATH_ESCAPES',
  /** An entry's path is absolute (`/x`, `C:x`). */
  ABSOLUTE_PATH: 'ABSOLUTE_PATH',
  /** An entry's path has a backslash, a control character, or is too long. */
  INVALID_PATH: 'INVALID_PATH',
  /** A symbolic or hard link: bundles hold no links at all. */
  LINK_ENTRY: 'LINK_ENTRY',
  /** A device, a FIFO, or any entry that is not a regular file or a directory. */
  SPECIAL_ENTRY: 'SPECIAL_ENTRY',
  /** The same path twice, or a path that is both a file and a directory. */
  DUPLICATE_ENTRY: 'DUPLICATE_ENTRY',
  /** An encrypted zip entry. */
  ENCRYPTED_ENTRY: 'ENCRYPTED_ENTRY',
  /** A zip entry compressed with something other than store or deflate. */
  UNSUPPORTED_COMPRESSION: 'UNSUPPORTED_COMPRESSION',
  /** More entries than the limit. */
  TOO_MANY_ENTRIES: 'TOO_MANY_ENTRIES',
  /** More uncompressed bytes in total than the limit. */
  TOO_LARGE: 'TOO_LARGE',
  /** One file larger than the limit. */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  /** An entry, or the whole bundle, expands more than the limit allows (a zip bomb). */
  COMPRESSION_RATIO: 'COMPRESSION_RATIO',
  /** berth.json is larger than 64 KiB. */
  BERTH_JSON_TOO_LARGE: 'BERTH_JSON_TOO_LARGE',
  /** berth.json is not valid JSON (the message names the position), or not a regular file. */
  BERTH_JSON_INVALID: 'BERTH_JSON_INVALID',
  /** berth.json has a field the schema does not know. */
  BERTH_JSON_UNKNOWN_FIELD: 'BERTH_JSON_UNKNOWN_FIELD',
  /** berth.json is valid JSON but breaks its schema: a wrong type, a value out of range. */
  BERTH_JSON_SCHEMA: 'BERTH_JSON_SCHEMA',
  /** berth.json asks for access to the host: privileged mode, host ports, mounts, networking. */
  BERTH_JSON_HOST_ACCESS: 'BERTH_JSON_HOST_ACCESS',
  /**
   * berth.json's `env` names a key Berth owns (PORT, BERTH_*), or would set a runtime key
   * (LD_PRELOAD, …) from a sample with autoconfigure; the rule is refusedKeyRule's.
   */
  BERTH_JSON_ENV_REFUSED: 'BERTH_JSON_ENV_REFUSED',
  /** app.json is larger than its limit (128 KiB). */
  APP_JSON_TOO_LARGE: 'APP_JSON_TOO_LARGE',
  /** app.json is not valid JSON (the message names the position), or not a regular file. */
  APP_JSON_INVALID: 'APP_JSON_INVALID',
  /**
   * app.json is valid JSON but a field Berth applies has a wrong type or value (the message
   * names its JSON path), or the file nests or declares more than Berth reads.
   */
  APP_JSON_SCHEMA: 'APP_JSON_SCHEMA',
  /** app.json's `env` names a key Berth owns (PORT, BERTH_*) or gives a runtime key a value. */
  APP_JSON_ENV_REFUSED: 'APP_JSON_ENV_REFUSED',
  /** The Procfile is too large, or has a line that is not `type: command`. */
  PROCFILE_INVALID: 'PROCFILE_INVALID',
  /** The Procfile declares no process. */
  PROCFILE_EMPTY: 'PROCFILE_EMPTY',
  /** package.json, read for the default process, is not valid JSON or too large. */
  PACKAGE_JSON_INVALID: 'PACKAGE_JSON_INVALID',
  /** The stack needs a process declaration the bundle does not give (node without `start`). */
  NO_PROCESS: 'NO_PROCESS',
} as const);
export type BundleErrorReason = (typeof BundleErrorReasons)[keyof typeof BundleErrorReasons];

/**
 * Reasons that say the bundle is too large to take, not malformed: the transport answers them
 * as "too large" (HTTP 413), each message naming the limit.
 */
const SIZE_REASONS: ReadonlySet<BundleErrorReason> = new Set([
  BundleErrorReasons.TOO_MANY_ENTRIES,
  BundleErrorReasons.TOO_LARGE,
  BundleErrorReasons.FILE_TOO_LARGE,
  BundleErrorReasons.COMPRESSION_RATIO,
]);

/**
 * A bundle was refused: the archive, its entries or its project files break a rule. The
 * message is written for the person who uploaded the bundle; `reason` is for programs. Never
 * retryable: the same bundle fails the same way. Its kind is 'input', or 'too-large' for a
 * bundle over a limit (a zip bomb); the code is BUNDLE_INVALID either way.
 */
export class BundleError extends BerthError {
  override readonly name = 'BundleError';
  readonly kind: ErrorKind;
  readonly reason: BundleErrorReason;
  readonly retryable = false;

  constructor(reason: BundleErrorReason, message: string) {
    super(ErrorCodes.BUNDLE_INVALID, message);
    this.reason = reason;
    this.kind = SIZE_REASONS.has(reason) ? 'too-large' : 'input';
  }
}
