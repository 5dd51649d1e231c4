// The lifecycle every long-running loop follows (change stream, workers): explicit states,
// legal transitions only, an AbortSignal to stop and a grace period before giving up.
export { Lifecycle, IllegalTransitionError, type LifecycleState } from './lifecycle.js';
export { ResourceStack } from './resource-stack.js';
