// Push to deploy over git smart HTTP and SSH: one bare repository per app, served by `git http-backend`,
// whose pre-receive hook turns a push to the deploy branch into a followed deployment task.
export { gitRoutes, type GitRouteServices } from './routes.js';
export { DEFAULT_DEPLOY_BRANCH, GitRepositories, type RepositoryOwner } from './repositories.js';
export { GitPushDeploys, type GitPushDeploysOptions, type PushSession } from './push-deploys.js';
// The SSH server (and ssh2 with it) is loaded only by listenGitSsh.
export type { GitSshServer, GitSshServices } from './ssh-server.js';
export { listenGitSsh, type GitSshListener } from './ssh-listener.js';
export { parseGitCommand } from './ssh-command.js';
