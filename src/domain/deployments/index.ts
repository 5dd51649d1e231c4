// Deployment tasks: the durable queue behind POST /deployments (queued → running → finished),
// with compare-and-set claims and leases so exactly one controller runs each task.
export {
  DeploymentsService,
  DEPLOY_STEPS,
  UNDEPLOY_STEPS,
  type DeploymentsState,
  type DeploymentsServiceOptions,
} from './service.js';
export { deploymentsState, MAX_LOG_CHARS } from './state.js';
export {
  isActive,
  type Deployment,
  type DeploymentKind,
  type DeploymentOptions,
  type DeploymentOutcome,
  type DeploymentProgress,
  type DeploymentSource,
  type DeploymentStatus,
  type Page,
  type StepRecord,
  type StepStatus,
} from './model.js';
