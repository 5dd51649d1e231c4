// The deployer worker: claims deployment tasks (watcher-driven, leased) and runs them through
// pluggable steps: validate → build → release → finalize (rollout joins with the runtime).
export { Deployer, type DeployerOptions } from './deployer.js';
export { BundleIntake } from './deployment-intake.js';
export { type StepRetryPolicy } from './step-retry.js';
export { StepFailure, type DeployStep, type PipelineState, type StepContext } from './step.js';
export {
  buildStep,
  defaultPipelines,
  finalizeStep,
  releaseStep,
  stopUnitsStep,
  validateStep,
  type DeployStepServices,
} from './deploy-steps.js';
