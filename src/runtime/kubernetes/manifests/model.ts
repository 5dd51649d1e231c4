import type { ProcessCommand } from '../../../domain/releases/index.js';

/** The label every object Berth makes carries, so that Berth finds (and deletes) its own. */
export const MANAGED_BY = Object.freeze({ 'app.kubernetes.io/managed-by': 'berth' });

/** Label keys Berth sets and selects on. */
export const KubeLabels = Object.freeze({
  app: 'berth.app',
  release: 'berth.release',
  process: 'berth.process',
  addon: 'berth.addon',
} as const);

/** The port an app's processes listen on inside their pod (Berth sets PORT to it). */
export const APP_PORT = 8080;

/** One process type of the release, with the formation it runs at. */
export interface KubeProcessInput {
  readonly type: string;
  readonly command: ProcessCommand;
  readonly count: number;
  /** Memory limit per pod in bytes, or null for the cluster's default. */
  readonly memoryBytes: number | null;
  /** CPUs per pod, or null for the cluster's default. */
  readonly cpu: number | null;
}

/** The release's HTTP health check (berth.json `healthcheck`). */
export interface KubeHealthcheckInput {
  readonly path: string;
  readonly timeoutSeconds: number;
  readonly attempts: number;
}

/** An add-on the app is attached to, and every app attached to it (for its policy). */
export interface KubeAddonInput {
  readonly kind: 'postgres' | 'redis';
  readonly name: string;
  /** The server's image (BERTH_POSTGRES_IMAGE / BERTH_REDIS_IMAGE or the official one). */
  readonly image: string;
  /** Names of every app attached to it, this one included. */
  readonly attachedApps: readonly string[];
}

/**
 * What the manifests of one app's release are made of. Plain data with no store, runtime or
 * HTTP in it, so that `berth kube manifests` on any controller and the Kubernetes runtime
 * later build the same objects from it.
 */
export interface KubeAppInput {
  readonly app: string;
  readonly release: number;
  /** `<registry>/berth/<app>:v<N>`: see imageOf. */
  readonly image: string;
  /** Process types in declaration order. */
  readonly processes: readonly KubeProcessInput[];
  readonly healthcheck: KubeHealthcheckInput | undefined;
  /** Names of the release's config vars (its own and its add-ons'); never their values. */
  readonly configKeys: readonly string[];
  readonly addons: readonly KubeAddonInput[];
  /** The app's host, `<app>.<domain>`. */
  readonly host: string;
  /** How long a pod has between SIGTERM and SIGKILL, in seconds. */
  readonly stopGraceSeconds: number;
  /** The namespace the ingress controller runs in, whose pods may reach web pods. */
  readonly ingressNamespace: string;
  /** The IngressClass, or undefined for the cluster's default. */
  readonly ingressClassName?: string | undefined;
}

/** Objects of the app's release, in the order they are best applied, and what was left out. */
export interface KubeManifests {
  readonly objects: readonly KubeObject[];
  /** Things of the release that have no object (yet), for people. */
  readonly notes: readonly string[];
}

/** Any Kubernetes object as plain JSON data. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** The labels of every object of an app's release. */
export function appLabels(input: Pick<KubeAppInput, 'app' | 'release'>): Record<string, string> {
  return {
    ...MANAGED_BY,
    [KubeLabels.app]: input.app,
    [KubeLabels.release]: `v${input.release}`,
  };
}

/** The labels of an add-on's objects. */
export function addonLabels(addon: Pick<KubeAddonInput, 'name'>): Record<string, string> {
  return { ...MANAGED_BY, [KubeLabels.addon]: addon.name };
}

/** Add-on server images where the controller names none: the official ones. */
export const OFFICIAL_ADDON_IMAGES = Object.freeze({
  postgres: 'docker.io/library/postgres:16',
  redis: 'docker.io/library/redis:7',
} as const);

/** The namespace ingress-nginx installs into, whose pods reach web pods by default. */
export const DEFAULT_INGRESS_NAMESPACE = 'ingress-nginx';

/**
 * The registry images are named in when none is given: the loopback registry
 * `--registry local` will run (the Distribution registry's usual port).
 */
export const DEFAULT_REGISTRY = '127.0.0.1:5000';
