import type { RouteOptions } from 'fastify';
import type { RouteAccess } from './access-hook.js';

/** Error responses a route can give, derived from what it declares. */
export function errorStatusesOf(route: RouteOptions, access: RouteAccess | undefined): number[] {
  const statuses = new Set<number>([400, 500]);
  const isPublic = !access || 'public' in access;
  if (!isPublic) {
    statuses.add(401);
    statuses.add(403);
  }
  if (access && !('public' in access) && access.app) statuses.add(404);
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((m) => ['POST', 'PUT', 'PATCH'].includes(m))) {
    statuses.add(413);
    statuses.add(415);
  }
  if (methods.includes('POST')) statuses.add(409);
  if (route.url.endsWith('/auth/login')) {
    statuses.add(401);
    statuses.add(429);
  }
  return [...statuses].sort();
}

const descriptions: Readonly<Record<number, string>> = {
  400: 'invalid input (INVALID_INPUT, INVALID_NAME, UNKNOWN_FIELD)',
  401: 'missing, invalid, expired or revoked token (UNAUTHENTICATED, TOKEN_*), or failed login',
  403: 'the token lacks the scope (SCOPE_REQUIRED) or access to the app (ACCESS_DENIED)',
  404: 'no such app (APP_NOT_FOUND) or item',
  409: 'conflicts with the current state (APP_EXISTS, USER_EXISTS)',
  413: 'the body is too large (PAYLOAD_TOO_LARGE)',
  415: 'unsupported content type',
  429: 'too many attempts (RATE_LIMITED); see Retry-After',
  500: 'internal error (INTERNAL)',
};

export function describeStatus(status: number): string {
  return descriptions[status] ?? 'error';
}
