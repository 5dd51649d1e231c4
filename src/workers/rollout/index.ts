// Rollout: runs releases on a runtime with zero downtime (start, check, move the routes,
// drain, stop), converges units to the formation, and takes apps down. Runtime-agnostic.
export { AppLocks } from './app-locks.js';
export {
  phasesOf,
  runPhase,
  type DeployPhases,
  type PhaseCommand,
  type RolloutPhases,
} from './release-phase.js';
export {
  RELEASE_PHASE_TIMEOUT_MS,
  ReleaseRunner,
  RolloutFailure,
  type OneOffRequest,
  type ReleaseRunnerOptions,
  type RolloutReport,
  type RunnerApp,
} from './release-runner.js';
