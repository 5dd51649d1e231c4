// The berth client: commands that talk to a Berth server over its HTTP and WebSocket API only
// (login, apps, deploy, logs, config, scale, ps, releases, rollback, run, tokens, …).
export { runClient } from './program.js';
export { IgnoreMatcher, parseIgnoreFile, type IgnoreRule } from './ignore.js';
export { listBundleFiles } from './bundle.js';
export { didYouMean, similarNames } from '../suggest.js';
