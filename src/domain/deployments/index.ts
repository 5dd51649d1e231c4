// Deployment tasks: the durable queue behind POST /deployments (queued → running → finished),
// with compare-and-set claims and leases so exactly one controller runs each task, and each
// task's progress as an append-only event log read by cursor.
export {
  DeploymentsService,
  DEFAULT_TASK_FLUSH,
  DEPLOY_STEPS,
  MAX_EVENTS_PAGE,
  UNDEPLOY_STEPS,
  type DeploymentsState,
  type DeploymentsServiceOptions,
} from './service.js';
export { deploymentsState, MAX_LOG_CHARS } from './state.js';
export type { BundleSubmission, DeploymentIntake } from './intake.js';
export {
  DeploymentTask,
  TaskAborted,
  TaskAbortReasons,
  type TaskAbortReason,
  type DeploymentTaskLimits,
  type DeploymentTaskOptions,
  type TaskWriteStatus,
} from './task.js';
export {
  DeploymentEventKinds,
  logTextOf,
  type DeploymentEvent,
  type DeploymentEventBody,
  type DeploymentEventPage,
  type NewDeploymentEvent,
} from './events.js';
export {
  isActive,
  type AppDeployment,
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
