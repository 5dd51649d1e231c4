/**
 * The codes of SecretsError. A code keeps its meaning forever; a new meaning gets a new code.
 * These are server faults (a lost or wrong key, a damaged store), not client mistakes, so they
 * are not domain errors and the API reports them as internal errors.
 */
export const SecretsErrorCodes = Object.freeze({
  /** The envelope was sealed under another master key (its key id differs from ours). */
  SECRETS_WRONG_MASTER_KEY: 'SECRETS_WRONG_MASTER_KEY',
  /** Authentication failed: the envelope was altered, or is opened for another owner. */
  SECRETS_TAMPERED: 'SECRETS_TAMPERED',
  /** Not an envelope: bad JSON, a missing or extra field, a bad encoding or length. */
  SECRETS_MALFORMED: 'SECRETS_MALFORMED',
  /** An envelope version this build cannot open (written by a newer Berth). */
  SECRETS_UNSUPPORTED_VERSION: 'SECRETS_UNSUPPORTED_VERSION',
  /** BERTH_MASTER_KEY or master.key does not hold a 32-byte key. */
  SECRETS_INVALID_MASTER_KEY: 'SECRETS_INVALID_MASTER_KEY',
  /** master.key can be read or written by group or others. */
  SECRETS_INSECURE_MASTER_KEY: 'SECRETS_INSECURE_MASTER_KEY',
  /** seal() or open() was given text UTF-8 cannot carry unchanged (a lone surrogate). */
  SECRETS_INVALID_TEXT: 'SECRETS_INVALID_TEXT',
} as const);
export type SecretsErrorCode = (typeof SecretsErrorCodes)[keyof typeof SecretsErrorCodes];

/**
 * A secret could not be sealed or opened, or the master key could not be used. Its message
 * never holds a plaintext or key material; match on `code`, never on the message.
 */
export class SecretsError extends Error {
  override readonly name = 'SecretsError';
  readonly code: SecretsErrorCode;

  constructor(code: SecretsErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
