// Destroying an app whole: units, processes, logs, files, repository and images, then its row,
// so that nothing of it outlives it and a new app of the same name starts empty.
export { AppTeardown, type AppLeftovers, type AppTeardownOptions } from './app-teardown.js';
