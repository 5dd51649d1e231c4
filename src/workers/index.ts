// Long-running workers driven by watchers: the deployer, the reconciler, router sync, cron, and
// the release runner they share to roll releases out. Each follows src/lifecycle.
export * from './cron/index.js';
export * from './deployer/index.js';
export * from './reconciler/index.js';
export * from './rollout/index.js';
export * from './router-sync/index.js';
export * from './scheduled-backups/index.js';
export * from './teardown/index.js';
