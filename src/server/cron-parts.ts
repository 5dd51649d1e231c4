import { readProject, type SlugStore } from '../build/index.js';
import type { WatcherHub } from '../changes/index.js';
import type { AppsService } from '../domain/apps/index.js';
import { CronService, cronState } from '../domain/cron/index.js';
import type { ReleasesService } from '../domain/releases/index.js';
import type { RolloutsService } from '../domain/rollouts/index.js';
import { ErrorCodes, NotFoundError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { Store } from '../store/index.js';
import { CronWorker, type ReleaseRunner } from '../workers/index.js';
import type { ServerOptions } from './options.js';

/**
 * App cron, composed: the service over its tables, and the worker that runs schedules as
 * one-offs of the live release (the release runner's `runOneOff`, as `berth run`), with the
 * schedules read from the live release's build (its manifests, as the rollout reads them).
 */
export function cronParts(parts: {
  readonly store: Store;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  readonly apps: AppsService;
  readonly releases: ReleasesService;
  readonly rollouts: RolloutsService;
  readonly runner: ReleaseRunner;
  readonly builds: SlugStore;
  readonly options: ServerOptions['cron'];
}): { readonly cron: CronService; readonly worker: CronWorker } {
  const { options } = parts;
  const clock = options.clock;
  const cron = new CronService({ state: cronState(parts.store), ...(clock ? { clock } : {}) });
  const worker = new CronWorker({
    cron,
    hub: parts.hub,
    logger: parts.logger,
    checkIntervalMs: options.checkIntervalMs,
    leaseMs: options.leaseMs,
    runTimeoutMs: options.runTimeoutMs,
    ...(clock ? { clock } : {}),
    sources: {
      changes: parts.rollouts.changes(),
      live: () => parts.rollouts.list(),
      async entriesOf(appId, version) {
        const release = await parts.releases.get(appId, version);
        if (release.artifactId === null) return [];
        if (!(await parts.builds.isBuilt(appId, release.artifactId))) return undefined;
        try {
          return (await readProject(parts.builds.path(appId, release.artifactId))).cron;
        } catch {
          // Checked at upload; a build that no longer reads keeps the schedules it had.
          return undefined;
        }
      },
    },
    executor: {
      async run(appId, command, signal) {
        const app = await parts.apps.findById(appId);
        if (!app) throw new NotFoundError('the app was destroyed', ErrorCodes.APP_NOT_FOUND);
        return parts.runner.runOneOff(app, { command, timeoutMs: options.runTimeoutMs }, signal);
      },
    },
  });
  return { cron, worker };
}
