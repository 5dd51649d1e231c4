// The composition root: turns options into a running controller (store, change stream, API,
// workers, and the data plane of runtime units and router), wiring every dependency once.
export { startServer, type RunningServer } from './server.js';
export {
  compileServerOptions,
  envName,
  OptionsError,
  serverFlags,
  type ListenAddress,
  type ServerFlag,
  type ServerOptions,
} from './options.js';
export { berthVersion } from './version.js';
export { stopDataPlane } from './data-plane.js';
export { stopController, writeControllerPid } from './controller-pid.js';
