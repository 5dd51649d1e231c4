// Kubernetes manifests of an app's release, as plain objects and YAML: a pure generator over
// runtime-agnostic input, used by `berth kube manifests` and, later, the Kubernetes runtime.
export { generateManifests } from './generate.js';
export {
  APP_PORT,
  DEFAULT_INGRESS_NAMESPACE,
  DEFAULT_REGISTRY,
  OFFICIAL_ADDON_IMAGES,
  KubeLabels,
  MANAGED_BY,
  type KubeAddonInput,
  type KubeAppInput,
  type KubeHealthcheckInput,
  type KubeManifests,
  type KubeObject,
  type KubeProcessInput,
} from './model.js';
export {
  addonSecretName,
  configSecretName,
  deploymentName,
  imageOf,
  parseRegistry,
} from './names.js';
export { addonPort } from './addon-objects.js';
export { SECRET_PLACEHOLDER } from './secrets.js';
export { manifestsToYaml } from './yaml.js';
