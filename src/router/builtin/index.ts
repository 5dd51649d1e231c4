// The builtin router: Berth's own HTTP data plane in plain Node (host routing, keep-alive
// upstream pools, WebSockets, static sites), steered over a unix control socket.
export { startRouter, type RouterOptions, type RunningRouter } from './router.js';
export { RouterAlreadyRunningError } from './control-server.js';
export { ROUTES_FILE } from './table-file.js';
export {
  compileTrafficLimits,
  DEFAULT_TRAFFIC_LIMITS,
  TrafficLimitError,
  type CompiledTrafficLimits,
  type TrafficLimitOptions,
} from './traffic-limits.js';
export { openInside } from './open-inside.js';
