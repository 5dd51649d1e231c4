// Identity: users, argon2id passwords, scoped API tokens (stored as hashes, shown once),
// authentication of every request, login rate limits and the first admin's bootstrap.
export {
  ADMIN_USERNAME,
  IdentityService,
  INITIAL_ADMIN_TOKEN_NAME,
  LAST_USED_RESOLUTION_MS,
  LOGIN_TOKEN_LIFETIME_MS,
  LOGIN_TOKEN_NAME,
  type AdminBootstrap,
  type IdentityServiceOptions,
  type IdentityState,
  type LoginResult,
} from './service.js';
export {
  Scopes,
  type CreatedToken,
  type Principal,
  type Scope,
  type TokenInfo,
  type User,
} from './model.js';
export { INITIAL_ADMIN_TOKEN_FILE } from './admin-token-file.js';
export { defaultLoginLimits, type LoginLimits } from './login-limiter.js';
export { defaultPasswordHashing, type PasswordHashing } from './passwords.js';
export { isScope, USERNAME_PATTERN } from './validation.js';
