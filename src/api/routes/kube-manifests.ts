import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { AddonKind, AddonsService } from '../../domain/addons/index.js';
import type { AppsService } from '../../domain/apps/index.js';
import type { FormationService } from '../../domain/formation/index.js';
import type { Release, ReleasesService } from '../../domain/releases/index.js';
import { ErrorCodes, NotFoundError } from '../../errors/index.js';
import {
  generateManifests,
  imageOf,
  manifestsToYaml,
  parseRegistry,
  type KubeAddonInput,
  type KubeAppInput,
  type KubeHealthcheckInput,
} from '../../runtime/kubernetes/index.js';
import { appOf } from '../access-hook.js';
import { AppParams } from '../schemas.js';

/** What the manifests take from the controller's options and the release's build. */
export interface KubeManifestOptions {
  /** Apps answer at `<app>.<domain>` (ServerOptions.domain). */
  readonly domain: string;
  /** The registry when the caller names none. */
  readonly defaultRegistry: string;
  /** SIGTERM to SIGKILL, in seconds (ServerOptions.unitStopGraceMs). */
  readonly stopGraceSeconds: number;
  /** The server image of each add-on kind. */
  readonly addonImages: Readonly<Record<AddonKind, string>>;
  /** Where the cluster's ingress controller runs: its pods may reach the web pods. */
  readonly ingressNamespace: string;
  /** The release's health check as its build declares it (berth.json), if it has one. */
  healthcheckOf(appId: string, release: Release): Promise<KubeHealthcheckInput | undefined>;
}

/** What GET /apps/{app}/kube-manifests needs. */
export interface KubeManifestServices {
  readonly apps: AppsService;
  readonly releases: ReleasesService;
  readonly formation: FormationService;
  readonly addons?: AddonsService | undefined;
  readonly kubeManifests: KubeManifestOptions;
}

const KubeManifestQuery = Type.Object(
  {
    release: Type.Optional(
      Type.String({
        pattern: '^v?[1-9][0-9]{0,8}$',
        description: 'the release, 3 or v3 (default: the newest)',
      }),
    ),
    registry: Type.Optional(
      Type.String({ maxLength: 255, description: 'HOST[:PORT][/PREFIX] the image is pulled from' }),
    ),
    format: Type.Optional(Type.Union([Type.Literal('yaml'), Type.Literal('json')])),
  },
  { additionalProperties: false },
);

const KubeManifestJson = Type.Object({
  app: Type.String(),
  release: Type.Integer(),
  image: Type.String(),
  notes: Type.Array(Type.String()),
  objects: Type.Array(Type.Object({}, { additionalProperties: true })),
});

async function addonsOf(services: KubeManifestServices, appId: string): Promise<KubeAddonInput[]> {
  const addons = services.addons;
  if (!addons) return [];
  const inputs: KubeAddonInput[] = [];
  for (const attachment of await addons.attachmentsOfApp(appId)) {
    const addon = await addons.get(attachment.addonName);
    const attachedApps = await Promise.all(
      (await addons.attachmentsOf(addon)).map(
        async (a) => (await services.apps.findById(a.appId))?.name,
      ),
    );
    inputs.push({
      kind: addon.kind,
      name: addon.name,
      image: services.kubeManifests.addonImages[addon.kind],
      attachedApps: [...new Set(attachedApps.filter((n): n is string => n !== undefined))],
    });
  }
  return inputs.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** GET /apps/{app}/kube-manifests: the Kubernetes objects of a release, on any runtime. */
export function kubeManifestRoutes(services: KubeManifestServices): FastifyPluginCallbackTypebox {
  return (api, _options, done) => {
    api.get(
      '/apps/:app/kube-manifests',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['kubernetes'],
          summary: 'The Kubernetes objects Berth would apply for a release (secret values never)',
          params: AppParams,
          querystring: KubeManifestQuery,
          response: {
            200: {
              description: 'YAML (the default) or, with format=json, the objects as JSON',
              content: {
                'text/yaml': { schema: Type.String() },
                'application/json': { schema: KubeManifestJson },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const { release: asked, registry, format } = request.query;
        const version = asked === undefined ? undefined : Number(asked.replace(/^v/, ''));
        // The registry is checked first: a bad one is the caller's to fix whatever the release.
        const registryRef = parseRegistry(registry ?? services.kubeManifests.defaultRegistry);
        let release: Release | undefined;
        if (version === undefined) {
          release = await services.releases.latest(app.id);
          if (!release) {
            throw new NotFoundError(
              `app '${app.name}' has no release yet: deploy it first`,
              ErrorCodes.RELEASE_NOT_FOUND,
            );
          }
        } else {
          release = await services.releases.get(app.id, version).catch((error: unknown) => {
            if (error instanceof NotFoundError && error.code === ErrorCodes.NOT_FOUND) {
              throw new NotFoundError(
                `app '${app.name}' has no release v${version}`,
                ErrorCodes.RELEASE_NOT_FOUND,
              );
            }
            throw error;
          });
        }
        const formation = await services.formation.get(app.id, release);
        const input: KubeAppInput = {
          app: app.name,
          release: release.version,
          image: imageOf(registryRef, app.name, release.version),
          processes: Object.entries(release.processes).map(([type, command]) => {
            const entry = formation[type];
            return {
              type,
              command,
              count: entry?.count ?? 1,
              memoryBytes: entry?.memoryBytes ?? null,
              cpu: entry?.cpu ?? null,
            };
          }),
          healthcheck: await services.kubeManifests.healthcheckOf(app.id, release),
          // The values are opened to learn the keys and dropped here: none is ever printed.
          configKeys: Object.keys(await services.releases.configOf(release)),
          addons: await addonsOf(services, app.id),
          host: `${app.name}.${services.kubeManifests.domain}`,
          stopGraceSeconds: services.kubeManifests.stopGraceSeconds,
          ingressNamespace: services.kubeManifests.ingressNamespace,
        };
        const manifests = generateManifests(input);
        if (format === 'json') {
          return reply.type('application/json').send({
            app: app.name,
            release: release.version,
            image: input.image,
            notes: [...manifests.notes],
            objects: [...manifests.objects],
          });
        }
        return reply
          .type('text/yaml; charset=utf-8')
          .send(manifestsToYaml(manifests, { app: app.name, release: release.version }));
      },
    );
    done();
  };
}
