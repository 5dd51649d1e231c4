import type { AddonsService } from '../domain/addons/index.js';
import swagger from '@fastify/swagger';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type RouteOptions } from 'fastify';
import { sql } from 'kysely';
import type { WatcherHub } from '../changes/index.js';
import type { AccessPolicy } from '../domain/access/index.js';
import type { AppsService } from '../domain/apps/index.js';
import type { AuditService } from '../domain/audit/index.js';
import type { ConfigService } from '../domain/config/index.js';
import type { DeploymentIntake, DeploymentsService } from '../domain/deployments/index.js';
import type { ProcessConfigService } from '../domain/process-configs/index.js';
import type { ReleasesService } from '../domain/releases/index.js';
import type { IdentityService } from '../domain/identity/index.js';
import type { KeysService } from '../domain/keys/index.js';
import { ErrorCodes } from '../errors/index.js';
import { gitRoutes, type GitPushDeploys, type GitRepositories } from '../git/index.js';
import type { Logger } from '../logging/index.js';
import type { Store } from '../store/index.js';
import { installAccessHook } from './access-hook.js';
import { installAuditHook } from './audit-hook.js';
import { errorBody, handleError } from './error-mapper.js';
import { describeStatus, errorStatusesOf } from './openapi.js';
import {
  addonRoutes,
  appRoutes,
  auditRoutes,
  configRoutes,
  cronRoutes,
  deploymentRoutes,
  domainRoutes,
  identityRoutes,
  keyRoutes,
  kubeManifestRoutes,
  releaseRoutes,
  runtimeRoutes,
  type AppDestroyer,
  type AppDiskUsage,
  type KubeManifestOptions,
  type CronRouteServices,
  type DomainRouteServices,
  type RuntimeRouteServices,
} from './routes/index.js';
import { ErrorResponse } from './schemas.js';
import { WsCloseCodes, WsSession, type WsSessionLimits } from './websocket/index.js';

export const API_PREFIX = '/api/v1';

export interface ApiOptions extends RuntimeRouteServices {
  readonly store: Store;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  readonly identity: IdentityService;
  readonly keys: KeysService;
  readonly apps: AppsService;
  readonly config: ConfigService;
  readonly audit: AuditService;
  readonly access: AccessPolicy;
  readonly deployments: DeploymentsService;
  /** How an uploaded bundle becomes a queued deploy (the same way as a git push). */
  readonly intake: DeploymentIntake;
  readonly releases: ReleasesService;
  readonly processConfigs: ProcessConfigService;
  /** What GET /apps/{app}/kube-manifests needs; the route is off without it. */
  readonly kubeManifests?: KubeManifestOptions;
  /** Add-on databases (/addons…); off without them. */
  readonly addons?: AddonsService;
  /** Custom domains and maintenance mode (/apps/{app}/domains, …/maintenance); off without. */
  /** App cron (/apps/{app}/cron…); off without it. */
  readonly cron?: CronRouteServices;
  readonly domains?: Omit<DomainRouteServices, 'apps' | 'access'>;
  /** Disk usage of an app's builds, shown by GET /apps/{app}. */
  readonly diskUsage?: AppDiskUsage;
  /** Destroys apps whole; without it, DELETE /apps/{app} removes the row alone. */
  readonly destroyer?: AppDestroyer;
  /** Where uploaded bundles wait while they are checked. */
  readonly uploadDir: string;
  /** Largest bundle accepted, in bytes (ServerOptions.bundleLimit). */
  readonly bundleLimit: number;
  /** Largest JSON request body accepted, in bytes (ServerOptions.bodyLimit). */
  readonly bodyLimit: number;
  /** What one WebSocket connection may do (ServerOptions.websocketLimits). */
  readonly websocketLimits: WsSessionLimits;
  readonly version?: string;
  /** Push to deploy over smart HTTP at /git/<app>.git (outside /api/v1); off without it. */
  readonly git?: {
    readonly repositories: GitRepositories;
    readonly pushes: GitPushDeploys;
    /** The largest push passed to git (ServerOptions.gitMaxPushBytes). */
    readonly maxPushBytes: number;
  };
}

const websocketOperation = {
  get: {
    tags: ['server'],
    summary: 'The WebSocket API: log in with the first message, then watch and unsubscribe',
    description:
      'Messages are JSON {id, method, params} answered by {id, result} or {id, error}; pushes are ' +
      '{subscription, event}. Methods: login {token}, watch {app?}, logs {app, process?}, ' +
      'unsubscribe {subscription}. ' +
      'Close codes: 4401 unauthenticated, 4408 no login in time, 4429 too slow, 1001 server stopping.',
    responses: {
      101: { description: 'switching protocols to WebSocket' },
      400: {
        description: 'not a WebSocket upgrade request',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
      },
      500: {
        description: 'internal error (INTERNAL)',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
      },
    },
  },
};

/** Builds the API server; the caller listens and closes it. */
export async function buildApi(options: ApiOptions) {
  const base = Fastify({
    // Fastify's instance types expect its own logger interface, which pino implements.
    // tsc needs this cast under exactOptionalPropertyTypes; the lint rule cannot see why.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit,
    // One access-log line per request (below) instead of Fastify's two: ~20% more requests/s.
    disableRequestLogging: true,
    requestIdHeader: 'x-request-id',
    // Long names still reach their route, and get APP_NOT_FOUND rather than a bare 404.
    routerOptions: { maxParamLength: 256 },
    genReqId: () => crypto.randomUUID(),
    // Unknown fields and wrong types are errors, never silently dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        errorBody(ErrorCodes.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`),
      ),
  );
  app.addSchema(ErrorResponse);
  // Every route documents the errors it can give, derived from its declared access.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith(API_PREFIX) || route.url.endsWith('/openapi.json')) return;
    const access = route.config?.access;
    const schema = (route.schema ??= {});
    const response = (schema.response ??= {}) as Record<number, unknown>;
    for (const status of errorStatusesOf(route, access)) {
      response[status] ??= { description: describeStatus(status), $ref: 'ErrorResponse#' };
    }
    if (access && !('public' in access))
      (schema as Record<string, unknown>)['security'] = [{ bearer: [] }];
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.routeOptions.url ?? request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
    return payload;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Berth API',
        version: options.version ?? '0.0.0',
        description: 'The Berth controller API',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    // @fastify/websocket hides WebSocket routes from the document; describe /ws by hand.
    transformObject: (document) =>
      'openapiObject' in document
        ? {
            ...document.openapiObject,
            paths: { ...document.openapiObject.paths, [`${API_PREFIX}/ws`]: websocketOperation },
          }
        : document.swaggerObject,
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`,
    },
  });
  await app.register(websocket, {
    options: { maxPayload: options.websocketLimits.maxMessageBytes },
    preClose(done) {
      for (const client of app.websocketServer.clients) {
        client.close(WsCloseCodes.goingAway, 'the server is shutting down');
      }
      app.websocketServer.close(() => done());
    },
  });
  installAccessHook(base, options);
  installAuditHook(base, options.audit);

  await app.register(
    async (api) => {
      api.get(
        '/health',
        {
          config: { access: { public: true } },
          schema: {
            tags: ['server'],
            summary: 'Whether the store answers',
            response: {
              200: Type.Object({
                status: Type.Literal('ok'),
                store: Type.String(),
                schemaVersion: Type.Integer(),
              }),
              503: {
                description: 'the store does not answer (STORE_UNAVAILABLE)',
                $ref: 'ErrorResponse#',
              },
            },
          },
        },
        async (_request, reply) => {
          try {
            await sql`SELECT 1`.execute(options.store.db);
            return {
              status: 'ok',
              store: options.store.dialect,
              schemaVersion: options.store.schemaVersion,
            };
          } catch {
            return reply
              .code(503)
              .send(errorBody(ErrorCodes.STORE_UNAVAILABLE, 'the store does not answer'));
          }
        },
      );
      api.get(
        '/openapi.json',
        { config: { access: { public: true } }, schema: { hide: true } },
        (_request, reply) => reply.send(app.swagger()),
      );
      api.get(
        '/ws',
        {
          websocket: true,
          config: { access: { public: true } },
          schema: { tags: ['server'], summary: 'The WebSocket API (login with the first message)' },
        },
        (socket) => {
          new WsSession(socket, options, options.websocketLimits);
        },
      );
      await api.register(identityRoutes(options));
      await api.register(keyRoutes(options));
      await api.register(appRoutes(options));
      if (options.kubeManifests) {
        await api.register(
          kubeManifestRoutes({ ...options, kubeManifests: options.kubeManifests }),
        );
      }
      await api.register(configRoutes(options));
      await api.register(auditRoutes(options));
      await api.register(releaseRoutes(options));
      await api.register(runtimeRoutes(options));
      if (options.addons) await api.register(addonRoutes({ ...options, addons: options.addons }));
      await api.register(deploymentRoutes(options));
      if (options.cron) await api.register(cronRoutes(options.cron));
      if (options.domains) await api.register(domainRoutes({ ...options, ...options.domains }));
    },
    { prefix: API_PREFIX },
  );
  if (options.git) await app.register(gitRoutes({ ...options, ...options.git }));
  return app;
}

export type Api = Awaited<ReturnType<typeof buildApi>>;
