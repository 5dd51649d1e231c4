// Per-process-type config (GET/PUT /deployments/configs/{app}), encrypted at rest like config
// vars. The service holds the rules (types, keys, limits, no-op puts); state holds the SQL.
export { ProcessConfigService, type ProcessConfigServiceOptions } from './service.js';
export { PROCESS_TYPE_PATTERN, ProcessConfigLimits, type ProcessConfigs } from './rules.js';
