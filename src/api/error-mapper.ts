import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  BerthError,
  ErrorCodes,
  RateLimitedError,
  type ErrorCode,
  type ErrorKind,
} from '../errors/index.js';

/** The one mapping from domain error kinds to HTTP statuses. */
export const statusOfKind: Readonly<Record<ErrorKind, number>> = Object.freeze({
  input: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'unsupported-media-type': 415,
  'rate-limited': 429,
  unavailable: 503,
});

/** The body of every error response. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly reason?: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Turns Fastify's schema-validation error into a precise message and code. */
function validationBody(error: FastifyError): ErrorBody {
  const issue = (error.validation as ValidationIssue[] | undefined)?.[0];
  const part = error.validationContext ?? 'body';
  if (issue?.keyword === 'additionalProperties') {
    const field = String(issue.params['additionalProperty']);
    const where = issue.instancePath ? `${part}${issue.instancePath.replaceAll('/', '.')}` : part;
    return errorBody(ErrorCodes.UNKNOWN_FIELD, `unknown field '${field}' in ${where}`);
  }
  return errorBody(ErrorCodes.INVALID_INPUT, error.message);
}

/**
 * Fastify's error handler: domain errors by kind, Fastify's own request errors by code,
 * anything else a 500 whose details stay in the log.
 */
export function handleError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof BerthError) {
    if (error instanceof RateLimitedError)
      reply.header('retry-after', String(error.retryAfterSeconds));
    const body = errorBody(error.code, error.message);
    // Some errors say more precisely why (a bundle's refusal reason); programs match on it.
    const reason = (error as { reason?: unknown }).reason;
    const withReason = typeof reason === 'string' ? { error: { ...body.error, reason } } : body;
    return reply.code(statusOfKind[error.kind]).send(withReason);
  }
  if (error.validation) return reply.code(400).send(validationBody(error));
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply
        .code(413)
        .send(
          errorBody(
            ErrorCodes.PAYLOAD_TOO_LARGE,
            'the request body is larger than the server accepts',
          ),
        );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply
        .code(400)
        .send(errorBody(ErrorCodes.INVALID_INPUT, 'the request body is not valid JSON'));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply
        .code(415)
        .send(
          errorBody(
            ErrorCodes.INVALID_INPUT,
            `unsupported content type '${request.headers['content-type'] ?? ''}'`,
          ),
        );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return reply
        .code(400)
        .send(
          errorBody(ErrorCodes.INVALID_INPUT, 'the Content-Length header does not match the body'),
        );
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return reply.code(error.statusCode).send(errorBody(ErrorCodes.INVALID_INPUT, error.message));
  }
  request.log.error({ err: error }, 'request failed');
  return reply
    .code(500)
    .send(errorBody(ErrorCodes.INTERNAL, 'internal error; the server log has the details'));
}
