// Maintenance mode: an app whose hosts the router answers with a 503 page and Retry-After,
// kept in the store and carried in the route table so that restarts keep it.
export {
  MaintenanceService,
  MAINTENANCE_RETRY_AFTER_SECONDS,
  MAX_MAINTENANCE_MESSAGE,
  type Maintenance,
  type MaintenanceServiceOptions,
  type MaintenanceState,
} from './service.js';
export { maintenanceState } from './state.js';
