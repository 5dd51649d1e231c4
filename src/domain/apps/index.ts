// Apps: the unit users deploy. The service holds the rules (names, uniqueness); state holds
// the SQL. Authorization is not here: see domain/access.
export {
  AppsService,
  APP_NAME_PATTERN,
  type App,
  type AppsState,
  type AppsServiceOptions,
  type Tenancy,
  APP_UIDS,
} from './service.js';
export { appsState } from './state.js';
