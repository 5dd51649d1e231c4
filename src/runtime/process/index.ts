// The process runtime: units as process groups on this machine, each under a detached
// supervisor of its own (supervisor.js) that outlives the controller.
export { ProcessDriver, type ProcessDriverOptions } from './process-driver.js';
export { ProcessAddonServers, processAddonsRoot, stopAddonServers } from './addon-servers.js';
export { RuntimeLayout } from './layout.js';
export {
  openProcessProfile,
  processAppsRoot,
  processRuntimeRoot,
  processSandboxes,
  type ProcessProfile,
  type ProcessProfileOptions,
} from './profile.js';
export { directoryArtifacts, slugBuilder, type SlugOwnership } from './release-artifacts.js';
export type { PortRange } from '../ports/index.js';
export {
  AppSandboxes,
  DEFAULT_PROCESS_CAPS,
  detectIsolation,
  processesOfUid,
  type ProcessCaps,
  type ProcessIsolation,
  type ProcessJail,
} from './app-sandbox.js';
export { Cgroup, detectCgroups, type CgroupLimits, type CgroupSupport } from './cgroups.js';
