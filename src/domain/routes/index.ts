// Routes: the route table as desired state, one entry per app that serves. Rollouts and the
// reconciler write it; router sync programs the router from it.
export {
  RoutesService,
  type AppRoute,
  type RouteTargetSpec,
  type RoutesState,
  type RoutesServiceOptions,
} from './service.js';
export { routesState } from './state.js';
