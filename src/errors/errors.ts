/**
 * Every error code the API can return. A code keeps its meaning forever; a new meaning gets a
 * new code. Clients and scripts match on these, never on messages.
 */
export const ErrorCodes = Object.freeze({
  INVALID_INPUT: 'INVALID_INPUT',
  INVALID_NAME: 'INVALID_NAME',
  UNKNOWN_FIELD: 'UNKNOWN_FIELD',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  TOKEN_INVALID: 'TOKEN_INVALID',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TOKEN_REVOKED: 'TOKEN_REVOKED',
  LOGIN_FAILED: 'LOGIN_FAILED',
  SCOPE_REQUIRED: 'SCOPE_REQUIRED',
  ACCESS_DENIED: 'ACCESS_DENIED',
  NOT_FOUND: 'NOT_FOUND',
  APP_NOT_FOUND: 'APP_NOT_FOUND',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  TOKEN_NOT_FOUND: 'TOKEN_NOT_FOUND',
  APP_EXISTS: 'APP_EXISTS',
  DEPLOYMENT_ACTIVE: 'DEPLOYMENT_ACTIVE',
  DEPLOYMENT_NOT_FOUND: 'DEPLOYMENT_NOT_FOUND',
  DEPLOYMENT_FINISHED: 'DEPLOYMENT_FINISHED',
  NOT_DEPLOYED: 'NOT_DEPLOYED',
  BUNDLE_INVALID: 'BUNDLE_INVALID',
  RELEASE_NOT_FOUND: 'RELEASE_NOT_FOUND',
  USER_EXISTS: 'USER_EXISTS',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  FORMATION_INVALID: 'FORMATION_INVALID',
  RUN_INVALID: 'RUN_INVALID',
  RUNTIME_UNAVAILABLE: 'RUNTIME_UNAVAILABLE',
  UNIT_SPEC_INVALID: 'UNIT_SPEC_INVALID',
  UNIT_EXISTS: 'UNIT_EXISTS',
  KEY_INVALID: 'KEY_INVALID',
  KEY_EXISTS: 'KEY_EXISTS',
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  SINGLE_TENANT_RUNTIME: 'SINGLE_TENANT_RUNTIME',
  ADDON_NOT_FOUND: 'ADDON_NOT_FOUND',
  ADDON_EXISTS: 'ADDON_EXISTS',
  ADDON_KIND_UNKNOWN: 'ADDON_KIND_UNKNOWN',
  ADDON_ALIAS_TAKEN: 'ADDON_ALIAS_TAKEN',
  ADDON_ATTACHED: 'ADDON_ATTACHED',
  ADDON_NOT_ATTACHED: 'ADDON_NOT_ATTACHED',
  ADDONS_UNAVAILABLE: 'ADDONS_UNAVAILABLE',
  CONFIRMATION_REQUIRED: 'CONFIRMATION_REQUIRED',
  BACKUP_NOT_FOUND: 'BACKUP_NOT_FOUND',
  BACKUP_FAILED: 'BACKUP_FAILED',
  BACKUP_CORRUPT: 'BACKUP_CORRUPT',
  BACKUP_FOREIGN: 'BACKUP_FOREIGN',
  BACKUP_RUNNING: 'BACKUP_RUNNING',
  DOMAIN_INVALID: 'DOMAIN_INVALID',
  DOMAIN_TAKEN: 'DOMAIN_TAKEN',
  DOMAIN_NOT_FOUND: 'DOMAIN_NOT_FOUND',
} as const);
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** What went wrong, in terms a transport can map (api/ maps kinds to HTTP statuses). */
export type ErrorKind =
  | 'input'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-large'
  | 'unsupported-media-type'
  | 'rate-limited'
  | 'unavailable';

/**
 * The base of every domain error. Its message is shown to the client, so it never holds a
 * secret (a password, a token, a config value).
 */
export abstract class BerthError extends Error {
  abstract readonly kind: ErrorKind;
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The request is malformed or breaks a rule: a name outside its pattern, a wrong type. */
export class InputError extends BerthError {
  override readonly name = 'InputError';
  readonly kind = 'input';
  constructor(message: string, code: ErrorCode = ErrorCodes.INVALID_INPUT) {
    super(code, message);
  }
}

/** No valid credentials: a missing, unknown, expired or revoked token, or a failed login. */
export class UnauthenticatedError extends BerthError {
  override readonly name = 'UnauthenticatedError';
  readonly kind = 'unauthenticated';
  constructor(message: string, code: ErrorCode = ErrorCodes.UNAUTHENTICATED) {
    super(code, message);
  }
}

/** Valid credentials without the scope or the access the request needs. */
export class ForbiddenError extends BerthError {
  override readonly name = 'ForbiddenError';
  readonly kind = 'forbidden';
  constructor(message: string, code: ErrorCode = ErrorCodes.ACCESS_DENIED) {
    super(code, message);
  }
}

export class NotFoundError extends BerthError {
  override readonly name = 'NotFoundError';
  readonly kind = 'not-found';
  constructor(message: string, code: ErrorCode = ErrorCodes.NOT_FOUND) {
    super(code, message);
  }
}

/** The request conflicts with the current state: a name taken, a task already running. */
export class ConflictError extends BerthError {
  override readonly name = 'ConflictError';
  readonly kind = 'conflict';
  constructor(message: string, code: ErrorCode) {
    super(code, message);
  }
}

export class PayloadTooLargeError extends BerthError {
  override readonly name = 'PayloadTooLargeError';
  readonly kind = 'too-large';
  constructor(message: string) {
    super(ErrorCodes.PAYLOAD_TOO_LARGE, message);
  }
}

/** A body sent as a type the route does not take; the message names those it does. */
export class UnsupportedMediaTypeError extends BerthError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly kind = 'unsupported-media-type';
  constructor(message: string) {
    super(ErrorCodes.INVALID_INPUT, message);
  }
}

/** Too many attempts; `retryAfterSeconds` says when to try again. */
export class RateLimitedError extends BerthError {
  override readonly name = 'RateLimitedError';
  readonly kind = 'rate-limited';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(ErrorCodes.RATE_LIMITED, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (the store) does not answer; retrying later may work. */
export class UnavailableError extends BerthError {
  override readonly name: string = 'UnavailableError';
  readonly kind = 'unavailable';
  constructor(
    message: string,
    options?: ErrorOptions,
    code: ErrorCode = ErrorCodes.STORE_UNAVAILABLE,
  ) {
    super(code, message, options);
  }
}
