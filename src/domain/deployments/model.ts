/** What a task does: build and release a bundle, or take the app's units down. */
export type DeploymentKind = 'deploy' | 'undeploy';

export type DeploymentStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** One step of a task, with its times (ISO-8601 UTC). */
export interface StepRecord {
  readonly name: string;
  readonly status: StepStatus;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface DeploymentSource {
  /** 'bundle' (an uploaded archive) or 'git' (a push). */
  readonly kind: string;
  readonly ref: string | null;
  readonly sha: string | null;
}

export interface DeploymentOptions {
  /** Apply berth.json's sample env values for keys not set yet. */
  readonly autoconfigure: boolean;
}

/** A deployment task, as the store holds it. */
export interface Deployment {
  readonly id: string;
  readonly appId: string;
  readonly kind: DeploymentKind;
  readonly status: DeploymentStatus;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly source: DeploymentSource;
  /** The size of the uploaded bundle the store holds for the task, until it has read it. */
  readonly bundleBytes: number | null;
  readonly options: DeploymentOptions;
  readonly currentStep: string | null;
  readonly steps: readonly StepRecord[];
  readonly error: string | null;
  readonly processErrors: Readonly<Record<string, string | null>> | null;
  readonly projectMetadata: Readonly<Record<string, unknown>> | null;
  readonly stack: string | null;
  readonly releaseVersion: number | null;
  readonly cancelRequested: boolean;
}

/** Whether a task still occupies its app (only one may at a time). */
export function isActive(status: DeploymentStatus): boolean {
  return status === 'queued' || status === 'running';
}

/** Progress a task holder reports while it runs. */
export interface DeploymentProgress {
  readonly currentStep?: string | null;
  readonly steps?: readonly StepRecord[];
  readonly processErrors?: Readonly<Record<string, string | null>>;
  readonly projectMetadata?: Readonly<Record<string, unknown>>;
  readonly stack?: string;
}

/** How a task ended. */
export interface DeploymentOutcome extends DeploymentProgress {
  readonly status: 'succeeded' | 'failed' | 'cancelled';
  readonly error?: string | null;
  readonly releaseVersion?: number | null;
}

/** A page of a listing, shaped as CONTRACT.md's deployments listing. */
/** An app's latest task with the app's name, as the list of every app's latest task shows it. */
export interface AppDeployment {
  readonly appName: string;
  readonly deployment: Deployment;
}

export interface Page<T> {
  readonly start: number;
  readonly totalEntriesCount: number;
  readonly entriesCount: number;
  readonly entries: readonly T[];
}
