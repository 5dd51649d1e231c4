import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ConfigService } from '../../domain/config/index.js';
import type { ReleasesService } from '../../domain/releases/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import { appOf, principalOf } from '../access-hook.js';
import { AllowRuntimeKeysQuery, AppParams, ConfigMap } from '../schemas.js';

/** GET/PATCH /apps/{app}/config. Values are shown only to tokens that may write them. */
export function configRoutes(services: {
  config: ConfigService;
  releases: ReleasesService;
  rollouts: RolloutsService;
}): FastifyPluginCallbackTypebox {
  return (api, _options, done) => {
    api.get(
      '/apps/:app/config',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['config'],
          summary: "An app's config vars; values are null unless the token has the 'write' scope",
          params: AppParams,
          response: { 200: ConfigMap },
        },
      },
      async (request) => {
        const reveal = principalOf(request).scopes.has('write');
        return services.config.get(appOf(request).id, { reveal });
      },
    );

    api.patch(
      '/apps/:app/config',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['config'],
          summary: 'Set (string) and unset (null) config vars in one change',
          params: AppParams,
          querystring: AllowRuntimeKeysQuery,
          body: ConfigMap,
          response: { 200: ConfigMap },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const { changed } = await services.config.patch(app.id, request.body, {
          allowRuntimeKeys: request.query.allowRuntimeKeys === 'true',
        });
        // A config change to an app that has been released makes a new release. Its version
        // goes in a header: the body is the config map, where any name could be a key.
        if (changed) {
          const serving = await services.rollouts.get(app.id);
          const release = await services.releases.onConfigChanged(
            app.id,
            serving?.version ?? undefined,
          );
          if (release) reply.header('berth-release', String(release.version));
        }
        return services.config.get(app.id, { reveal: true });
      },
    );
    done();
  };
}
