import type { AccessPolicy, AccessScope, Caller } from '../domain/access/index.js';
import type { App } from '../domain/apps/index.js';
import type { GitPushDeploys } from './push-deploys.js';
import type { GitRepositories } from './repositories.js';
import { gitBaseEnv } from './run-git.js';

/** The two git services and the scope each needs: fetch and clone read, push writes. */
export const GIT_SERVICES = {
  'git-upload-pack': 'read',
  'git-receive-pack': 'write',
} as const satisfies Record<string, AccessScope>;
export type GitService = keyof typeof GIT_SERVICES;

export function isGitService(value: unknown): value is GitService {
  return value === 'git-upload-pack' || value === 'git-receive-pack';
}

/**
 * The one authorization of a git request, whatever its transport: the service's scope, then
 * the app (`<app>` or `<app>.git`) and the caller's access to it. Throws the AccessPolicy's
 * ForbiddenError or NotFoundError.
 */
export async function authorizeGit(
  access: AccessPolicy,
  caller: Caller,
  repo: string,
  service: GitService,
): Promise<App> {
  const name = repo.endsWith('.git') ? repo.slice(0, -4) : repo;
  const app = await access.authorize(caller, { scope: GIT_SERVICES[service], app: name });
  if (!app) throw new Error('no app');
  return app;
}

/** A git process's environment for one request, and what to call when it is over. */
export interface GitProcessEnv {
  readonly env: Record<string, string>;
  readonly repository: string;
  readonly end: () => void;
}

/**
 * The repository (made when needed) and the environment of the git process that serves one
 * request: the minimal git environment, the hook's client, and for a receive-pack the push's
 * one-time secret (registered with GitPushDeploys until `end`), so its pre-receive hook deploys.
 */
export async function gitProcessEnv(
  services: { readonly repositories: GitRepositories; readonly pushes: GitPushDeploys },
  target: { readonly app: App; readonly username: string },
  receive: boolean,
): Promise<GitProcessEnv> {
  const { repositories, pushes } = services;
  const repository = await repositories.ensure(target.app);
  const session = receive
    ? pushes.openSession({
        app: target.app,
        username: target.username,
        repository,
        deployBranch: await repositories.deployBranch(target.app),
      })
    : undefined;
  return {
    env: {
      ...gitBaseEnv(repositories.root),
      BERTH_GIT_HOOK_CLIENT: repositories.hookClient,
      ...session?.env,
    },
    repository,
    end: session?.end ?? (() => undefined),
  };
}
