// Runtimes run an app's units: one contract (driver.ts) and its shared test suite, a wrapper
// enforcing its lifecycle, one folder per driver; all outside those folders is driver-agnostic.
export {
  DEFAULT_RESTART_POLICY,
  type AppAccount,
  type Driver,
  type LogLine,
  type LogQuery,
  type OneOffResult,
  type OneOffSpec,
  type RestartPolicy,
  type UnitArtifact,
  type UnitCommand,
  type UnitExit,
  type UnitLimits,
  type UnitSpec,
  type UnitState,
  type UnitStatus,
} from './driver.js';
export { RuntimeDriver } from './runtime-driver.js';
export type {
  BuildRequest,
  BuildTarget,
  DiskUsage,
  ReleaseBuilder,
  ReleaseOnRuntime,
  RuntimeCapabilities,
  RuntimeKind,
  RuntimeProfile,
  UnitArtifacts,
} from './profile.js';
export { shellLine } from './shell-line.js';
export {
  RESERVED_ENV_KEYS,
  UNIT_ID_PATTERN,
  validateOneOffSpec,
  validateUnitSpec,
} from './spec-rules.js';
export { PortAllocator, type PortClaims, type PortRange } from './ports/index.js';
export {
  ADDON_KINDS,
  type AddonCredentials,
  type AddonEndpoint,
  type AddonKind,
  type AddonServers,
  type AddonServerSpec,
  type AddonServerStatus,
} from './addons.js';
export { checkHealth, type HealthCheckOptions, type HealthCheckResult } from './health-check.js';
export {
  AppSandboxes,
  Cgroup,
  DEFAULT_PROCESS_CAPS,
  detectCgroups,
  detectIsolation,
  openProcessProfile,
  ProcessDriver,
  processAppsRoot,
  processesOfUid,
  processRuntimeRoot,
  processSandboxes,
  processAddonsRoot,
  RuntimeLayout,
  stopAddonServers,
  type CgroupSupport,
  type ProcessCaps,
  type ProcessDriverOptions,
  type ProcessIsolation,
  type ProcessJail,
  type ProcessProfile,
} from './process/index.js';
export {
  ContainerDriver,
  ContainerLabels,
  appNetworkName,
  containerName,
  containerAddonsRoot,
  containersRoot,
  openContainerProfile,
  stopContainerAddons,
  type ContainerProfile,
  ENGINE_RECORD_FILE,
  recordEngine,
  recordedEngine,
  type ContainerDriverOptions,
  type EngineRecord,
} from './container/index.js';
