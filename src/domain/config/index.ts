// Config vars: an app's environment, encrypted at rest with src/secrets. The service holds the
// rules (keys, limits, no-op sets); state holds the SQL. Authorization is the caller's.
export { ConfigService, type ConfigPatchResult, type ConfigServiceOptions } from './service.js';
export {
  ALLOW_RUNTIME_KEYS_FLAG,
  CONFIG_KEY_PATTERN,
  ConfigLimits,
  isPlatformKey,
  refusedKeyRule,
  RUNTIME_KEYS,
  type ConfigPatch,
  type KeyPolicy,
} from './rules.js';
