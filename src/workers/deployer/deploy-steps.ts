import { randomBytes } from 'node:crypto';
import { chmod, cp, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  autoconfigureSamples,
  BuildFailure,
  BundleError,
  describeBuildFailure,
  extractBundle,
  formatBytes,
  readProject,
  type Addon,
  type ArtifactStore,
  type BuildNetwork,
  type EnvVarSpec,
  type Stack,
} from '../../build/index.js';
import type { App } from '../../domain/apps/index.js';
import type { ArtifactsService } from '../../domain/artifacts/index.js';
import type { ConfigService } from '../../domain/config/index.js';
import type { DeploymentsService } from '../../domain/deployments/index.js';
import type { ReleasesService } from '../../domain/releases/index.js';
import { BerthError } from '../../errors/index.js';
import type { ReleaseBuilder } from '../../runtime/index.js';
import { RolloutFailure, type ReleaseRunner } from '../rollout/index.js';
import { StepFailure, type DeployStep } from './step.js';

export interface DeployStepServices {
  readonly deployments: DeploymentsService;
  readonly config: ConfigService;
  readonly releases: ReleasesService;
  readonly artifacts: ArtifactStore;
  readonly artifactRecords: ArtifactsService;
  readonly runner: ReleaseRunner;
  /** How the runtime profile builds a release's artifact (a slug, an image) and keeps it. */
  readonly builder: ReleaseBuilder;
  /** The runtime's backend an error says did not answer (RuntimeProfile.unreachableBackend). */
  readonly unreachableBackend: (error: unknown) => string | undefined;
  /** The bound of one build (npm ci, pip install, npm run build together). */
  readonly buildTimeoutMs: number;
  /** The host's proxies, CAs and npm/pip settings, given to every build. */
  readonly buildNetwork?: BuildNetwork;
  /** Makes and attaches the add-ons berth.json and app.json ask for (ensureDeclared). */
  readonly addons?: {
    ensureDeclared(
      app: App,
      declared: readonly Addon[],
      log: (line: string) => void,
    ): Promise<void>;
    /** The variables the app's add-ons give it (AddonsService.variablesOf). */
    variablesOf(appId: string): Promise<ReadonlyMap<string, string>>;
  };
}

/**
 * Copies a stored artifact's tree to `dir` as a bundle's source would be: the store keeps its
 * files read-only, and a build writes next to them (node_modules, a lock file, its output).
 */
async function restoreSource(artifactDir: string, dir: string): Promise<string> {
  await cp(artifactDir, dir, { recursive: true, verbatimSymlinks: true });
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of [{ parentPath: path.dirname(dir), name: path.basename(dir) }, ...entries]) {
    const file = path.join(entry.parentPath, entry.name);
    const stats = await lstat(file);
    if (!stats.isSymbolicLink()) await chmod(file, stats.mode | 0o200);
  }
  return dir;
}

/**
 * validate: extracts the bundle with every safety limit, reads berth.json / app.json / Procfile
 * (logging their warnings), detects the stack, and checks each process and the required config
 * vars. Any process error fails the task, with the per-process errors in the record, and
 * produces no release.
 */
export function validateStep(services: DeployStepServices): DeployStep {
  return {
    name: 'validate',
    async run(context) {
      const { deployment, app, workDir, state } = context;
      const bundleFile = path.join(workDir, 'bundle');
      await services.deployments.readBundle(deployment.id, bundleFile);
      const sourceDir = path.join(workDir, 'source');
      await mkdir(sourceDir);
      let project;
      try {
        const extracted = await extractBundle({ archivePath: bundleFile, destination: sourceDir });
        context.log(`extracted ${extracted.fileCount} files, ${formatBytes(extracted.totalBytes)}`);
        context.signal.throwIfAborted();
        project = await readProject(sourceDir);
      } catch (error) {
        if (error instanceof BundleError) throw new StepFailure(`invalid bundle: ${error.message}`);
        throw error;
      } finally {
        await rm(bundleFile, { force: true });
      }
      await context.report({
        processErrors: project.processErrors,
        projectMetadata: project.metadata,
        stack: project.stack,
      });
      context.log(
        `stack: ${project.stack}; processes: ${Object.keys(project.processes).join(', ') || '(none)'}`,
      );
      if (project.releaseCommand !== undefined) {
        context.log(`release phase: ${project.releaseCommand} (a one-off before the units start)`);
      }
      // What the manifests hold that this deploy does not apply: the user is told, not refused.
      for (const warning of project.warnings) context.log(`warning: ${warning}`);
      const failing = Object.entries(project.processErrors).filter(
        ([, message]) => message !== null,
      );
      if (failing.length > 0) {
        const detail = failing.map(([type, message]) => `${type}: ${message}`).join('; ');
        throw new StepFailure(`${failing.length} process type(s) failed validation: ${detail}`, {
          processErrors: project.processErrors,
        });
      }
      if (Object.keys(project.processes).length === 0) {
        throw new StepFailure(
          'the bundle defines no process: add a Procfile or "processes" to berth.json',
        );
      }

      // Before the release is made, so that its variables include the add-ons' URLs; and
      // before the required vars are checked, as an add-on's URL is one of them.
      if (project.addons.length > 0) {
        if (!services.addons)
          throw new StepFailure('the bundle asks for add-ons, and this server runs none');
        try {
          await services.addons.ensureDeclared(app, project.addons, (line) => context.log(line));
        } catch (error) {
          if (error instanceof BerthError) throw new StepFailure(`add-ons: ${error.message}`);
          throw error;
        }
      }
      // What the app's releases will have: its config vars and its add-ons' URLs.
      const current = new Set([
        ...Object.keys(await services.config.get(app.id, { reveal: false })),
        ...((await services.addons?.variablesOf(app.id))?.keys() ?? []),
      ]);
      let offered: Record<string, string> = {};
      try {
        // Checked at the door too; a task queued before the rule existed meets it here.
        if (deployment.options.autoconfigure) offered = autoconfigureSamples(project.env);
      } catch (error) {
        if (error instanceof BundleError) throw new StepFailure(`invalid bundle: ${error.message}`);
        throw error;
      }
      const settings = configDefaults(project.env, current, offered);
      if (settings.missing.length > 0) {
        const sampled = settings.missing.some((key) => project.env[key]?.value !== undefined);
        throw new StepFailure(
          `required config vars are not set: ${settings.missing.join(', ')} (set them` +
            (sampled
              ? ', or deploy with ?autoconfigure=true to use the sample values of berth.json)'
              : ' with berth config set, then deploy again)'),
        );
      }
      const patch = { ...settings.samples, ...settings.defaults, ...settings.secrets };
      if (Object.keys(patch).length > 0) {
        await services.config.patch(app.id, patch);
        const keys = (values: Record<string, string>) => Object.keys(values).sort().join(', ');
        if (Object.keys(settings.samples).length > 0)
          context.log(`autoconfigure: set ${keys(settings.samples)} from berth.json`);
        if (Object.keys(settings.defaults).length > 0)
          context.log(`app.json: set ${keys(settings.defaults)} to the values app.json gives`);
        if (Object.keys(settings.secrets).length > 0)
          context.log(
            `app.json: generated a secret for ${keys(settings.secrets)} (kept from now on)`,
          );
      }
      state.sourceDir = sourceDir;
      state.stack = project.stack;
      state.processes = project.processes;
      state.formation = project.formation;
    },
  };
}

/** What the validate step sets of the app's declared env, and what it still lacks. */
interface ConfigDefaults {
  /** berth.json samples, with autoconfigure. */
  readonly samples: Record<string, string>;
  /** app.json values: set whenever the app has no such var, as Heroku sets them. */
  readonly defaults: Record<string, string>;
  /** app.json `generator: "secret"`: 32 random bytes in hex, as Heroku makes them. */
  readonly secrets: Record<string, string>;
  /** Required keys nothing gives, sorted. */
  readonly missing: string[];
}

/**
 * Decides, per declared key the app lacks (no config var, no add-on variable), what gives it a
 * value: a sample offered by autoconfigure, else app.json's value, else a generated secret;
 * a required key with none of them is missing. A key the app has is never touched, so a
 * generated secret is made once and kept by every later deploy.
 */
function configDefaults(
  env: Readonly<Record<string, EnvVarSpec>>,
  current: ReadonlySet<string>,
  offered: Readonly<Record<string, string>>,
): ConfigDefaults {
  const samples: [string, string][] = [];
  const defaults: [string, string][] = [];
  const secrets: [string, string][] = [];
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(env)) {
    if (current.has(key)) continue;
    const sample = Object.hasOwn(offered, key) ? offered[key] : undefined;
    if (sample !== undefined) samples.push([key, sample]);
    else if (spec.default !== undefined) defaults.push([key, spec.default]);
    else if (spec.generator === 'secret') secrets.push([key, randomBytes(32).toString('hex')]);
    else if (spec.required) missing.push(key);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
  return {
    samples: Object.fromEntries(samples),
    defaults: Object.fromEntries(defaults),
    secrets: Object.fromEntries(secrets),
    missing: missing.sort(),
  };
}

/**
 * build: stores the source as a content-addressed artifact (unchanged content is kept once),
 * then builds it: a slug in place for the process runtime (dependencies, build script), or an
 * image on the engine for container runtimes. A build of the same source is reused: a
 * redeploy of unchanged code builds nothing.
 */
export function buildStep(services: DeployStepServices): DeployStep {
  return {
    name: 'build',
    async run(context) {
      const { state, app, deployment } = context;
      // A retried build finds its source moved into the slug it discarded: it starts again
      // from the stored artifact, never from what the failed run left.
      const sourceDir =
        state.sourceDir ??
        (state.artifactId
          ? await restoreSource(
              services.artifacts.path(state.artifactId),
              path.join(context.workDir, `source-${Date.now()}`),
            )
          : undefined);
      if (!sourceDir) throw new Error('build ran without a validated source');
      const artifact = await services.artifacts.put(sourceDir);
      await services.artifactRecords.register(artifact);
      state.artifactId = artifact.id;
      context.log(
        `artifact ${artifact.id.slice(0, 12)} (${artifact.fileCount} files, ${formatBytes(artifact.sizeBytes)})` +
          (artifact.created ? '' : ', unchanged content reused'),
      );
      const stack = (state.stack ?? 'unknown') as Stack;
      const { builder } = services;
      if (await builder.isBuilt(app, artifact.id, stack)) {
        context.log('this source was built before: reusing its build');
        return;
      }
      delete state.sourceDir;
      try {
        await builder.build({
          app,
          artifactId: artifact.id,
          sourceDir,
          stack,
          buildId: deployment.id,
          timeoutMs: services.buildTimeoutMs,
          signal: context.signal,
          log: (line) => context.log(line),
          ...(services.buildNetwork ? { network: services.buildNetwork } : {}),
        });
      } catch (error) {
        const backend = services.unreachableBackend(error);
        if (backend) {
          throw new StepFailure(
            `build failed: ${backend} does not answer (${(error as Error).message}); ` +
              'start it and deploy again',
            { retryable: true },
          );
        }
        if (error instanceof BuildFailure)
          throw new StepFailure(describeBuildFailure(error), { retryable: error.retryable });
        throw error;
      }
    },
  };
}

/** release: a new immutable numbered release: the artifact, a config snapshot, the formation. */
export function releaseStep(services: DeployStepServices): DeployStep {
  return {
    name: 'release',
    async run(context) {
      const { state, deployment, app } = context;
      if (!state.artifactId || !state.processes || !state.formation)
        throw new Error('release ran without a build');
      const source = deployment.source.ref
        ? `${deployment.source.kind} ${deployment.source.ref}`
        : deployment.source.kind;
      const release = await services.releases.create({
        appId: app.id,
        artifactId: state.artifactId,
        stack: state.stack ?? null,
        processes: state.processes,
        formation: state.formation,
        description: `Deploy ${source}`,
        deploymentId: deployment.id,
      });
      state.releaseVersion = release.version;
      context.log(`released v${release.version}`);
    },
  };
}

/**
 * rollout: runs the release phase and app.json's predeploy, starts the release's units, waits
 * for their health checks, moves the routes, drains and stops the previous units, then runs
 * app.json's postdeploy scripts (Heroku's only when no deploy of the app succeeded before). A
 * failing release phase, predeploy or unit fails the task; the previous release keeps serving.
 */
export function rolloutStep(services: DeployStepServices): DeployStep {
  return {
    name: 'rollout',
    async run(context) {
      const { state, app, deployment } = context;
      if (!state.releaseVersion) throw new Error('rollout ran without a release');
      const release = await services.releases.get(app.id, state.releaseVersion);
      const earlier = await services.deployments.listForApp(app.id);
      const firstDeploy = !earlier.some(
        (task) =>
          task.id !== deployment.id && task.kind === 'deploy' && task.status === 'succeeded',
      );
      try {
        await services.runner.rollOut(app, release, {
          signal: context.signal,
          log: (line) => context.log(line),
          deploy: { firstDeploy },
        });
      } catch (error) {
        if (error instanceof RolloutFailure) {
          throw new StepFailure(
            `v${release.version} did not roll out: ${error.message}; the previous release keeps serving`,
          );
        }
        const backend = services.unreachableBackend(error);
        if (backend) {
          throw new StepFailure(
            `v${release.version} did not roll out: ${backend} stopped answering ` +
              `(${(error as Error).message}); the previous release keeps serving`,
          );
        }
        throw error;
      }
    },
  };
}

/** finalize: the last step of every task. */
export function finalizeStep(): DeployStep {
  return {
    name: 'finalize',
    run(context) {
      context.log(
        context.state.releaseVersion
          ? `v${context.state.releaseVersion} is the current release`
          : 'done',
      );
      return Promise.resolve();
    },
  };
}

/** stop: takes the app's units down and its routes away; releases and config stay. */
export function stopUnitsStep(services: DeployStepServices): DeployStep {
  return {
    name: 'stop',
    async run(context) {
      await services.runner.takeDown(context.app, (line) => context.log(line));
      context.log('every unit is stopped and the app has no route');
    },
  };
}

/** The pipelines of the two task kinds. */
export function defaultPipelines(services: DeployStepServices): {
  deploy: readonly DeployStep[];
  undeploy: readonly DeployStep[];
} {
  return {
    deploy: [
      validateStep(services),
      buildStep(services),
      releaseStep(services),
      rolloutStep(services),
      finalizeStep(),
    ],
    undeploy: [stopUnitsStep(services), finalizeStep()],
  };
}
