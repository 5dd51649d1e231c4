import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { AuditService } from '../../domain/audit/index.js';
import { pageOf } from '../paging.js';
import { PageOf, PageQuery } from '../schemas.js';

const AuditEntry = Type.Object({
  id: Type.String(),
  at: Type.String(),
  actorId: Type.Union([Type.String(), Type.Null()]),
  actorName: Type.Union([Type.String(), Type.Null()]),
  tokenId: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
  status: Type.Integer(),
  requestId: Type.Union([Type.String(), Type.Null()]),
});

/** GET /audit: the audit log, newest first (admin). */
export function auditRoutes(services: { audit: AuditService }): FastifyPluginCallbackTypebox {
  return (api, _options, done) => {
    api.get(
      '/audit',
      {
        config: { access: { scope: 'admin' } },
        schema: {
          tags: ['audit'],
          summary: 'Every mutating call: who, what, when, outcome (admin)',
          querystring: PageQuery,
          response: {
            200: PageOf(AuditEntry),
          },
        },
      },
      async (request) => services.audit.list(pageOf(request.query)),
    );
    done();
  };
}
