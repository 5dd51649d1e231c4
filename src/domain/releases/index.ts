// Releases: an app's numbered, immutable history of what it runs (artifact, processes,
// formation) and the sealed config snapshot it runs with. Rollbacks make new releases.
export {
  ReleasesService,
  type ReleaseEnvironment,
  type ReleasesServiceOptions,
} from './service.js';
export type { Release, ReleaseInput, ReleaseSummary } from './model.js';
export { ReleaseLimits } from './rules.js';
export {
  describeProcess,
  describeProcesses,
  IMAGE_CMD,
  runsUnits,
  shellCommand,
  STATIC_SITE,
  type ProcessCommand,
  type ProcessCommands,
  type ProcessKind,
} from './process-command.js';
