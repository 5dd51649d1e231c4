import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { BundleError, extractBundle, readProject, type ArtifactStore } from '../../build/index.js';
import type { ArtifactsService } from '../../domain/artifacts/index.js';
import type { ConfigService } from '../../domain/config/index.js';
import type { DeploymentsService } from '../../domain/deployments/index.js';
import type { ReleasesService } from '../../domain/releases/index.js';
import { StepFailure, type DeployStep } from './step.js';

export interface DeployStepServices {
  readonly deployments: DeploymentsService;
  readonly config: ConfigService;
  readonly releases: ReleasesService;
  readonly artifacts: ArtifactStore;
  readonly artifactRecords: ArtifactsService;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * validate: extracts the bundle with every safety limit, reads berth.json / Procfile, detects
 * the stack, and checks each process and the required config vars. Any process error fails
 * the task, with the per-process errors in the record, and produces no release.
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

      const current = await services.config.get(app.id, { reveal: false });
      const samples: Record<string, string> = {};
      const missing: string[] = [];
      for (const [key, spec] of Object.entries(project.env)) {
        if (key in current) continue;
        if (deployment.options.autoconfigure && spec.value !== undefined) samples[key] = spec.value;
        else if (spec.required) missing.push(key);
      }
      if (missing.length > 0) {
        throw new StepFailure(
          `required config vars are not set: ${missing.sort().join(', ')} (set them, or deploy with ` +
            `?autoconfigure=true to use the sample values of berth.json)`,
        );
      }
      if (Object.keys(samples).length > 0) {
        await services.config.patch(app.id, samples);
        context.log(`autoconfigure: set ${Object.keys(samples).sort().join(', ')} from berth.json`);
      }
      state.sourceDir = sourceDir;
      state.stack = project.stack;
      state.processes = project.processes;
      state.formation = project.formation;
    },
  };
}

/** build: stores the source as a content-addressed artifact (unchanged content is kept once). */
export function buildStep(services: DeployStepServices): DeployStep {
  return {
    name: 'build',
    async run(context) {
      const sourceDir = context.state.sourceDir;
      if (!sourceDir) throw new Error('build ran without a validated source');
      const artifact = await services.artifacts.put(sourceDir);
      await services.artifactRecords.register(artifact);
      context.state.artifactId = artifact.id;
      context.log(
        `artifact ${artifact.id.slice(0, 12)} (${artifact.fileCount} files, ${formatBytes(artifact.sizeBytes)})` +
          (artifact.created ? '' : ', unchanged content reused'),
      );
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

/** finalize: the last step of every task; the runtime's rollout will come before it. */
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

/** stop: takes the app's units down and its routes away (the runtime arrives with issue 5). */
export function stopUnitsStep(): DeployStep {
  return {
    name: 'stop',
    run(context) {
      context.log('no runtime units to stop: this controller runs no units yet');
      return Promise.resolve();
    },
  };
}

/** The pipelines of the two task kinds. */
export function defaultPipelines(services: DeployStepServices): {
  deploy: readonly DeployStep[];
  undeploy: readonly DeployStep[];
} {
  return {
    deploy: [validateStep(services), buildStep(services), releaseStep(services), finalizeStep()],
    undeploy: [stopUnitsStep(), finalizeStep()],
  };
}
