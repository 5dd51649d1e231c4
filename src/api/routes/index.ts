// The API's routes, one file per area. Each route declares its access (scope, app) and its
// schemas; handlers call domain services only.
export { addonRoutes } from './addons.js';
export { appRoutes, type AppDestroyer, type AppDiskUsage } from './apps.js';
export { auditRoutes } from './audit.js';
export { configRoutes } from './config.js';
export { cronRoutes, type CronRouteServices, type CronRunner } from './cron.js';
export { domainRoutes, type DomainRouteServices, type DomainRouting } from './domains.js';
export { identityRoutes } from './identity.js';
export { keyRoutes } from './keys.js';
export {
  kubeManifestRoutes,
  type KubeManifestOptions,
  type KubeManifestServices,
} from './kube-manifests.js';
export {
  deploymentRoutes,
  BUNDLE_CONTENT_TYPES,
  type DeploymentRouteServices,
} from './deployments.js';
export { releaseRoutes } from './releases.js';
export { runtimeRoutes, logLineOut, type RuntimeRouteServices } from './runtime.js';
export type { OneOffRuns } from './one-off-runs.js';
