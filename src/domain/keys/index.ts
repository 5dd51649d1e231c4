// SSH keys: users' public keys (authorized_keys lines, checked with ssh2), found by their
// SHA256 fingerprint when git connects over SSH.
export {
  KeysService,
  MAX_KEYS_PER_USER,
  type KeyOwner,
  type KeysServiceOptions,
  type KeysState,
} from './service.js';
export { keysState } from './state.js';
export { fingerprintOf, KEY_TYPES, parsePublicKey, type ParsedPublicKey } from './parse.js';
export type { SshKey } from './model.js';
