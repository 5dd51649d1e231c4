import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ReleasesService } from '../../domain/releases/index.js';
import { ErrorCodes, NotFoundError } from '../../errors/index.js';
import { appOf } from '../access-hook.js';
import { AppParams } from '../schemas.js';

export const ReleaseResponse = Type.Object({
  version: Type.Integer(),
  description: Type.String(),
  artifactId: Type.Union([Type.String(), Type.Null()]),
  stack: Type.Union([Type.String(), Type.Null()]),
  processes: Type.Record(Type.String(), Type.String()),
  formation: Type.Record(Type.String(), Type.Integer()),
  configKeys: Type.Array(Type.String()),
  deploymentId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});

/** GET /apps/{app}/releases, POST /apps/{app}/rollback. */
export function releaseRoutes(services: {
  releases: ReleasesService;
}): FastifyPluginCallbackTypebox {
  return (api, _options, done) => {
    api.get(
      '/apps/:app/releases',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['releases'],
          summary: 'Numbered immutable releases, newest first (config keys, never values)',
          params: AppParams,
          response: { 200: Type.Array(ReleaseResponse) },
        },
      },
      async (request) => services.releases.list(appOf(request).id),
    );

    api.post(
      '/apps/:app/rollback',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['releases'],
          summary: "A new release from an old one's artifact (nothing rebuilds)",
          params: AppParams,
          body: Type.Object(
            { version: Type.Integer({ minimum: 1 }) },
            { additionalProperties: false },
          ),
          response: { 201: ReleaseResponse },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const { version } = request.body;
        const release = await services.releases.rollback(app.id, version).catch((error) => {
          // The service knows apps by id; whoever asked knows the app by its name.
          if (error instanceof NotFoundError && error.code === ErrorCodes.NOT_FOUND) {
            throw new NotFoundError(`app '${app.name}' has no release v${version}`);
          }
          throw error;
        });
        const summary = (await services.releases.list(appOf(request).id)).find(
          (r) => r.version === release.version,
        );
        return reply.code(201).send(summary);
      },
    );
    done();
  };
}
