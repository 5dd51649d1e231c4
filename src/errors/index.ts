// The small fixed set of domain errors. Domain code throws these and knows nothing of HTTP;
// api/ maps each kind to a status in one place. Codes are stable and never reused.
export {
  BerthError,
  ConflictError,
  ErrorCodes,
  ForbiddenError,
  InputError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  type ErrorCode,
  type ErrorKind,
} from './errors.js';
