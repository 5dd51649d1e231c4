// Add-ons: database servers (PostgreSQL, Redis) created once per add-on, attached to apps as
// `<ALIAS>_URL`, and kept until an explicit destroy. The runtime's AddonServers run them.
export {
  AddonsService,
  type AddonApps,
  type AddonInfo,
  type AddonInput,
  type AddonsServiceOptions,
  type AddonsState,
} from './service.js';
export {
  ADDON_KINDS,
  attachmentVariable,
  type Addon,
  type AddonAttachment,
  type AddonBackup,
  type AddonKind,
} from './model.js';
export { ALIAS_PATTERN, DEFAULT_ALIASES, validateAlias } from './rules.js';
