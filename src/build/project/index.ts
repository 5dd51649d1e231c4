// Project reading: what an extracted bundle declares (berth.json, app.json, Procfile) and which
// stack it is, turned into metadata, processes with per-process errors, env, add-ons, formation.
export { readProject } from './read-project.js';
export { APP_JSON_MAX_BYTES } from './app-json.js';
export { HEROKU_ADDON_KINDS, HEROKU_SIZES } from './heroku-names.js';
export { autoconfigureSamples, BERTH_JSON_MAX_BYTES, ENV_KEY_PATTERN } from './berth-json.js';
export { PROCFILE_MAX_BYTES } from './procfile.js';
export { MAX_COMMAND_LENGTH } from './process-rules.js';
export {
  ADDONS,
  CONCURRENCY_POLICIES,
  HEALTHCHECK_DEFAULTS,
  PROCESS_TYPE_PATTERN,
  Stacks,
  type Addon,
  type ConcurrencyPolicy,
  type CronEntry,
  type EnvVarSpec,
  type Healthcheck,
  type ProcessSource,
  type Project,
  type ProjectMetadata,
  type Stack,
} from './model.js';
