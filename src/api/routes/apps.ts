import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { App, AppsService } from '../../domain/apps/index.js';
import type { AccessPolicy } from '../../domain/access/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import { appOf, principalOf } from '../access-hook.js';
import { AppParams, AppResponse } from '../schemas.js';

function appJson(app: App) {
  return {
    id: app.id,
    name: app.name,
    ownerId: app.ownerId,
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
  };
}

/** What an app's builds hold on the runtime's machine, where the runtime can tell. */
export interface AppDiskUsage {
  of(app: App): Promise<{ images: number; bytes: number } | undefined>;
}

/** Destroys an app with everything it kept (units, logs, files, repository, images). */
export interface AppDestroyer {
  /** `withAddons`: destroy the add-ons attached to it only, detach shared ones; else refuse. */
  destroy(app: App, options?: { readonly withAddons: boolean }): Promise<void>;
}

/** POST/GET /apps, GET/DELETE /apps/{app}. */
export function appRoutes(services: {
  apps: AppsService;
  access: AccessPolicy;
  diskUsage?: AppDiskUsage;
  /** Default: the row alone (config cascades), for servers without a runtime. */
  destroyer?: AppDestroyer;
  /** Which release serves and which last failed to roll out, shown by GET /apps/{app}. */
  rollouts?: RolloutsService;
}): FastifyPluginCallbackTypebox {
  return (api, _options, done) => {
    api.post(
      '/apps',
      {
        config: { access: { scope: 'write' } },
        schema: {
          tags: ['apps'],
          summary: 'Create an app owned by the caller',
          body: Type.Object(
            { name: Type.String({ maxLength: 256 }) },
            { additionalProperties: false },
          ),
          response: { 201: AppResponse },
        },
      },
      async (request, reply) => {
        const app = await services.apps.create(principalOf(request).userId, request.body.name);
        return reply.code(201).header('location', `/api/v1/apps/${app.name}`).send(appJson(app));
      },
    );

    api.get(
      '/apps',
      {
        config: { access: { scope: 'read' } },
        schema: {
          tags: ['apps'],
          summary: 'The apps the caller may see (admins: all)',
          response: { 200: Type.Array(AppResponse) },
        },
      },
      async (request) => {
        const apps = await services.apps.list(services.access.visibleOwner(principalOf(request)));
        return apps.map(appJson);
      },
    );

    api.get(
      '/apps/:app',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['apps'],
          summary: 'Show an app',
          params: AppParams,
          response: { 200: AppResponse },
        },
      },
      async (request) => {
        const app = appOf(request);
        const disk = await services.diskUsage?.of(app).catch(() => undefined);
        const live = await services.rollouts?.get(app.id);
        const rollout = live && {
          liveVersion: live.version,
          failedVersion: live.failedVersion,
          failure: live.failure,
        };
        return { ...appJson(app), ...(disk ? { disk } : {}), ...(rollout ? { rollout } : {}) };
      },
    );

    api.delete(
      '/apps/:app',
      {
        config: { access: { scope: 'delete', app: true } },
        schema: {
          tags: ['apps'],
          summary:
            'Destroy an app: its units, processes, logs, files, git repository, images, config and releases',
          params: AppParams,
          querystring: Type.Object(
            {
              withAddons: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
            },
            { additionalProperties: false },
          ),
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        const withAddons = request.query.withAddons === 'true';
        await (services.destroyer ?? services.apps).destroy(appOf(request), { withAddons });
        return reply.code(204).send();
      },
    );
    done();
  };
}
