import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { autoconfigureSamples, extractBundle, readProject } from '../../build/index.js';
import type {
  BundleSubmission,
  Deployment,
  DeploymentIntake,
  DeploymentsService,
} from '../../domain/deployments/index.js';

/**
 * Uploads and git pushes submit through this: the bundle is extracted with every safety limit
 * and its project read (a bad berth.json or Procfile is refused before any task exists), then
 * the deploy is queued. The task's validate step reads it again from the store's copy.
 */
export class BundleIntake implements DeploymentIntake {
  readonly #deployments: DeploymentsService;

  constructor(options: { readonly deployments: DeploymentsService }) {
    this.#deployments = options.deployments;
  }

  assertIdle(app: { readonly id: string; readonly name: string }): Promise<void> {
    return this.#deployments.assertIdle(app);
  }

  async submit(submission: BundleSubmission): Promise<Deployment> {
    const { app, bundle, options } = submission;
    await this.assertIdle(app);
    const source = path.join(submission.workDir, 'source');
    await mkdir(source, { recursive: true });
    await extractBundle({ archivePath: bundle.file, destination: source });
    const project = await readProject(source);
    // Required config vars with samples are checked as the task will see them.
    if (options.autoconfigure) autoconfigureSamples(project.env);
    return this.#deployments.enqueue({
      appId: app.id,
      appName: app.name,
      kind: 'deploy',
      source: submission.source,
      bundle,
      options,
    });
  }
}
