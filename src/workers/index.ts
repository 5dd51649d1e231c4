// Long-running workers driven by watchers: today the deployer; later the reconciler, router
// sync and the autoscaler. Each follows src/lifecycle.
export * from './deployer/index.js';
