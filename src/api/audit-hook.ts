import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../domain/audit/index.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Records every mutating call, successful or not (who, what, when, outcome), after the
 * response is sent. A failure to record is logged; it never fails the request. Bodies are
 * never recorded: they may hold passwords and config values.
 */
export function installAuditHook(app: FastifyInstance, audit: AuditService): void {
  app.addHook('onResponse', async (request, reply) => {
    if (!MUTATING.has(request.method)) return;
    const params = request.params as Record<string, string | undefined>;
    const body = request.body as Record<string, unknown> | undefined;
    const loginName =
      request.routeOptions.url === '/api/v1/auth/login' && typeof body?.['username'] === 'string'
        ? body['username'].slice(0, 64)
        : undefined;
    const principal = request.principal;
    try {
      await audit.record({
        ...(principal
          ? { actorId: principal.userId, actorName: principal.username, tokenId: principal.tokenId }
          : {}),
        ...(loginName && !principal ? { actorName: loginName } : {}),
        action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
        ...(params['app']
          ? { target: params['app'].slice(0, 64) }
          : params['id']
            ? { target: params['id'].slice(0, 64) }
            : {}),
        outcome: reply.statusCode < 400 ? 'success' : 'failure',
        status: reply.statusCode,
        requestId: request.id,
      });
    } catch (error) {
      request.log.error({ err: error }, 'could not write the audit record');
    }
  });
}
