// Router sync: programs the router data plane from the route table in the store, on every
// change a watcher reports, and again whenever the router comes back without the latest table.
export { RouterSync, type DataPlane, type RouterSyncOptions } from './router-sync.js';
