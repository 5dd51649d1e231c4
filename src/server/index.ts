// The composition root: turns options into a running controller (store, change stream, API,
// and later the workers), wiring every dependency once.
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
