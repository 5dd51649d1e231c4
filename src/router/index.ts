// Routers: the route table the controller hands to a data plane, the builtin data plane
// (builtin/), and the controller's side of it (client, process supervision).
export {
  EMPTY_ROUTE_TABLE,
  type Route,
  type RouteMaintenance,
  type RouteTable,
  type RouteTarget,
  type RouterHealth,
  type Upstream,
} from './route-table.js';
export { RouteTableError, validateRouteTable } from './route-table-validation.js';
export {
  compileTrafficLimits,
  DEFAULT_TRAFFIC_LIMITS,
  openInside,
  RouterAlreadyRunningError,
  ROUTES_FILE,
  startRouter,
  TrafficLimitError,
  type CompiledTrafficLimits,
  type RouterOptions,
  type RunningRouter,
  type TrafficLimitOptions,
} from './builtin/index.js';
export {
  RouterClient,
  RouterRequestError,
  RouterUnavailableError,
  type RouterClientOptions,
} from './router-client.js';
export {
  ensureRouterProcess,
  RouterAddressInUseError,
  RouterStartError,
  ROUTER_LOG,
  stopRouterProcess,
  type EnsureRouterOptions,
} from './router-process.js';
export { RouterWatch, type RouterWatchOptions } from './router-watch.js';
export {
  CONTROL_SOCKET,
  PID_FILE,
  processStat,
  readRouterPidFile,
  type RouterPidFile,
} from './pid-file.js';
