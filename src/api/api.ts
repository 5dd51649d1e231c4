import Fastify from 'fastify';
import { sql } from 'kysely';
import type { Logger } from '../logging/index.js';
import type { Store } from '../store/index.js';

export interface ApiOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit?: number;
}

/** Builds the API server; the caller listens and closes it. */
export function buildApi(options: ApiOptions) {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    forceCloseConnections: 'idle',
  });

  app.get('/api/v1/health', async (_request, reply) => {
    try {
      await sql`SELECT 1`.execute(options.store.db);
      return {
        status: 'ok',
        store: options.store.dialect,
        schemaVersion: options.store.schemaVersion,
      };
    } catch {
      return reply.code(503).send({
        error: { code: 'STORE_UNAVAILABLE', message: 'the store does not answer' },
      });
    }
  });

  return app;
}
