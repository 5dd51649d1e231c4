// Rollouts: which release of each app serves, and which release last failed to roll out (so
// that the reconciler does not retry it in a loop). No record: the app is not deployed.
export {
  RolloutsService,
  type LiveRelease,
  type RolloutsState,
  type RolloutsServiceOptions,
} from './service.js';
export { rolloutsState } from './state.js';
