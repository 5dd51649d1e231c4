// Secrets at rest: envelope encryption (AES-256-GCM, a data key per secret wrapped by the
// master key) and the master key's loading and first-start creation. node:crypto only.
export { SecretBox } from './secret-box.js';
export {
  loadOrCreateMasterKey,
  masterKeyFromBytes,
  MASTER_KEY_ENV,
  MASTER_KEY_FILE,
  type LoadMasterKeyOptions,
  type MasterKey,
  type MasterKeySource,
} from './master-key.js';
export { SecretsError, SecretsErrorCodes, type SecretsErrorCode } from './errors.js';
