// The container runtime: units as containers on a Docker or Podman engine through the Docker
// Engine API, labelled so a restarted controller adopts them, restarted by the driver itself;
// add-on servers as containers with a volume each.
export {
  ContainerDriver,
  DEFAULT_PIDS_LIMIT,
  type ContainerDriverOptions,
} from './container-driver.js';
export {
  containerAddonsRoot,
  containersRoot,
  openContainerProfile,
  type ContainerProfile,
  type ContainerProfileOptions,
} from './profile.js';
export {
  addonContainerName,
  ContainerAddonServers,
  DEFAULT_ADDON_IMAGES,
  stopContainerAddons,
  type ContainerAddonServersOptions,
} from './addon-servers.js';
export { imageArtifacts, imageBuilder } from './release-artifacts.js';
export {
  ENGINE_RECORD_FILE,
  recordEngine,
  recordedEngine,
  type EngineRecord,
} from './engine-record.js';
export {
  LifecycleMoves,
  listedPhase,
  moveLifecycle,
  type LifecycleKind,
  type UnitLifecycle,
} from './unit-lifecycle.js';
export { GUARD_CHAINS, IptablesNetworkGuard, type NetworkGuard } from './network-guard.js';
export { appNetworkName, containerName, Labels as ContainerLabels } from './labels.js';
