import { HEALTHCHECK_DEFAULTS, readProject, type SlugStore } from '../build/index.js';
import type { KubeManifestOptions } from '../api/index.js';
import {
  DEFAULT_INGRESS_NAMESPACE,
  DEFAULT_REGISTRY,
  OFFICIAL_ADDON_IMAGES,
} from '../runtime/kubernetes/index.js';
import type { ServerOptions } from './options.js';

/**
 * What `berth kube manifests` takes from this controller: its domain, stop grace and add-on
 * images, and each release's health check from its build (berth.json), as rollouts read it.
 */
export function kubeManifestOptions(
  options: Pick<ServerOptions, 'domain' | 'unitStopGraceMs' | 'addonImages'>,
  builds: Pick<SlugStore, 'path' | 'isBuilt'>,
): KubeManifestOptions {
  const compiled: KubeManifestOptions = {
    domain: options.domain,
    defaultRegistry: DEFAULT_REGISTRY,
    stopGraceSeconds: Math.ceil(options.unitStopGraceMs / 1000),
    addonImages: Object.freeze({
      postgres: options.addonImages.postgres ?? OFFICIAL_ADDON_IMAGES.postgres,
      redis: options.addonImages.redis ?? OFFICIAL_ADDON_IMAGES.redis,
    }),
    ingressNamespace: DEFAULT_INGRESS_NAMESPACE,
    async healthcheckOf(appId, release) {
      if (release.artifactId === null) return undefined;
      if (!(await builds.isBuilt(appId, release.artifactId))) return undefined;
      try {
        const project = await readProject(builds.path(appId, release.artifactId));
        return project.healthcheck
          ? { ...HEALTHCHECK_DEFAULTS, ...project.healthcheck }
          : undefined;
      } catch {
        // An unreadable berth.json is no health check, as for rollouts.
        return undefined;
      }
    },
  };
  return Object.freeze(compiled);
}
