// The builder for the process runtime: turns an extracted bundle, in place, into a runnable
// slug (node modules, a python venv), and says how the slug's units are to be started.
export {
  buildSlug,
  type BuildCommandResult,
  type BuildResult,
  type BuildJail,
  type BuildSlugOptions,
} from './build-slug.js';
export {
  hasBuildNetwork,
  loadBuildNetwork,
  NO_BUILD_NETWORK,
  proxyVariables,
  BuildNetworkError,
  SYSTEM_CA_BUNDLE,
  type BuildNetwork,
  type LoadBuildNetworkOptions,
} from './build-network.js';
export { BUILD_NETWORK_DIR, BuildNetworkFiles, buildNetworkFiles } from './build-network-files.js';
export {
  BuildFailure,
  BuildFailureReasons,
  describeBuildFailure,
  FAILURE_TAIL_LINES,
  type BuildFailureReason,
} from './build-failure.js';
export { DEFAULT_BASE_PATH, runtimeEnv } from './runtime-env.js';
export { resolveCommand } from './resolve-command.js';
export { KILL_GRACE_MS } from './run-command.js';
export { LAST_LINES, LastLines, LineSplitter, MAX_LINE_LENGTH } from './output-lines.js';
export {
  nodeBuildSteps,
  pythonBuildSteps,
  VENV_DIR,
  type NodeBuildSteps,
  type PythonBuildSteps,
} from './build-plan.js';
export type { BuildCommand } from './run-command.js';
