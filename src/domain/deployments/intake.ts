import type { Deployment, DeploymentOptions, DeploymentSource } from './model.js';

/** A bundle on its way in, from an upload or a git push. */
export interface BundleSubmission {
  readonly app: { readonly id: string; readonly name: string };
  /** The bundle, a zip or a tar.gz, already within the size limit. */
  readonly bundle: { readonly file: string; readonly bytes: number };
  /** A scratch folder of the caller's, emptied by it afterwards: the check extracts here. */
  readonly workDir: string;
  readonly source: DeploymentSource;
  readonly options: DeploymentOptions;
}

/**
 * The one way a bundle becomes a queued deploy, whatever brought it (POST /deployments, git
 * over HTTP or SSH): the one-task-per-app rule first, then the bundle's checks (every
 * extraction limit, berth.json and the Procfile), then the task. Its implementation lives with
 * the build's checks (workers/deployer/deployment-intake.ts).
 */
export interface DeploymentIntake {
  /** ConflictError (DEPLOYMENT_ACTIVE) when the app has a task queued or running. */
  assertIdle(app: { readonly id: string; readonly name: string }): Promise<void>;
  /** Checks the bundle (BundleError on a bad one), then queues its deploy. */
  submit(submission: BundleSubmission): Promise<Deployment>;
}
