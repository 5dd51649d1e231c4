// The client's command groups, one file each; program.ts registers them on commander.
// Each takes the program and the run's context.
export { registerAddons } from './addons.js';
export { registerApps } from './apps.js';
export { registerConfig } from './config.js';
export { registerCron } from './cron.js';
export { registerDeploy } from './deploy.js';
export { registerDomains } from './domains.js';
export { registerGitCredential } from './git-credential.js';
export { registerGitRemote } from './git-remote.js';
export { registerKeys } from './keys.js';
export { registerKube } from './kube.js';
export { registerLogin } from './login.js';
export { registerLogs } from './logs.js';
export { registerOpen } from './open.js';
export { registerProcesses } from './processes.js';
export { registerReleases } from './releases.js';
export { registerRun } from './run.js';
export { registerTokens } from './tokens.js';
