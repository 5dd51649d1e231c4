import {
  buildSlug,
  resolveCommand,
  runtimeEnv,
  type SlugStore,
  type Stack,
} from '../../build/index.js';
import type { AppAccount } from '../driver.js';
import type { BuildRequest, ReleaseBuilder, UnitArtifacts } from '../profile.js';
import type { AppSandboxes } from './app-sandbox.js';

/** Hands a slug to the app's user when it is not already its own (see AppSandboxes). */
export interface SlugOwnership {
  claimTree(dir: string, account: AppAccount): Promise<void>;
}

/**
 * The process runtime's: slugs in place, with the build's PATH (node_modules/.bin, venv). With
 * `ownership`, a slug built before apps ran as users of their own (owned by root) becomes the
 * app's before it runs, so that a rollback to it works and no other app can read it.
 */
export function directoryArtifacts(ownership?: SlugOwnership): UnitArtifacts {
  return {
    kind: 'directory',
    async artifactOf({ slugDir, account }) {
      await ownership?.claimTree(slugDir, account);
      return { kind: 'directory', path: slugDir };
    },
    async commandOf({ slugDir }, command) {
      if (command.kind !== 'command')
        throw new Error(`a ${command.kind} process runs no unit here`);
      return { kind: 'shell', line: await resolveCommand(slugDir, command.line) };
    },
    baseEnv: ({ release, slugDir }) =>
      runtimeEnv(slugDir, (release.stack ?? 'unknown') as Stack, process.env['PATH'] ?? ''),
    problemOf({ release }) {
      const imageOnly = Object.entries(release.processes).find(
        ([, command]) => command.kind === 'image',
      );
      return Promise.resolve(
        imageOnly
          ? `${imageOnly[0]}: a Dockerfile app needs the container runtime (berth server --runtime container)`
          : undefined,
      );
    },
    // Slugs are kept per artifact and reused by rollbacks; removing them is left to the owner.
    prune: () => Promise.resolve(),
    diskUsage: () => Promise.resolve(undefined),
  };
}

/**
 * Builds slugs in place: dependencies and the build script run in the slug's own directory,
 * as the app's user inside a jail where the sandboxes isolate apps (the slug becomes the
 * app's), and whatever the build leaves running is ended with it.
 */
export function slugBuilder(builds: SlugStore, sandboxes?: AppSandboxes): ReleaseBuilder {
  return {
    builds,
    isBuilt: (app, artifactId) => builds.isBuilt(app.id, artifactId),
    async build(request: BuildRequest) {
      const { app, artifactId } = request;
      const dir = await builds.prepare(app.id, artifactId, request.sourceDir);
      try {
        const jail = await sandboxes?.buildJail(
          `build-${request.buildId}`,
          { appId: app.id, uid: app.uid },
          dir,
        );
        let result: object;
        try {
          result = await buildSlug({
            dir,
            stack: request.stack,
            timeoutMs: request.timeoutMs,
            signal: request.signal,
            log: request.log,
            ...(request.network ? { network: request.network } : {}),
            ...(jail ? { jail } : {}),
          });
        } finally {
          // Whatever the build started and left running (a daemon, a watcher) ends with it.
          await jail?.release();
        }
        await builds.markBuilt(app.id, artifactId, { builtAt: new Date().toISOString(), result });
      } catch (error) {
        await builds.discard(app.id, artifactId);
        throw error;
      }
    },
  };
}
