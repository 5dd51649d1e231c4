import { randomUUID } from 'node:crypto';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import { isUniqueViolation } from '../../store/index.js';
import type {
  Deployment,
  DeploymentKind,
  DeploymentOptions,
  DeploymentOutcome,
  DeploymentProgress,
  DeploymentSource,
  DeploymentStatus,
  Page,
  StepRecord,
} from './model.js';

/** What the deployments service needs from the store. */
export interface DeploymentsState {
  /** Inserts the task and, in the same transaction, the bundle file's bytes. */
  insert(deployment: Deployment, bundleFile: string | undefined): Promise<void>;
  /** Writes the task's stored bundle to a file. */
  readBundle(id: string, destinationFile: string): Promise<void>;
  get(id: string): Promise<Deployment | undefined>;
  latestForApp(appId: string): Promise<Deployment | undefined>;
  listForApp(appId: string): Promise<Deployment[]>;
  latestPerApp(query: {
    ownerId: string | undefined;
    start: number;
    count: number;
  }): Promise<{ total: number; entries: Deployment[] }>;
  queued(limit: number): Promise<Deployment[]>;
  /** Compare-and-set queued → running, taking the lease; false when another got there first. */
  claim(
    id: string,
    owner: string,
    now: string,
    expiresAt: string,
    firstStep: string | null,
  ): Promise<boolean>;
  heartbeat(
    id: string,
    owner: string,
    expiresAt: string,
  ): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** Writes progress if `owner` still holds the lease; says whether it does and if a cancel is asked. */
  progress(
    id: string,
    owner: string,
    progress: DeploymentProgress,
  ): Promise<{ held: boolean; cancelRequested: boolean }>;
  finish(id: string, owner: string, outcome: DeploymentOutcome, now: string): Promise<boolean>;
  expiredLeases(now: string): Promise<string[]>;
  /** Fails a task whose lease expired; returns its id if this call did it. */
  failExpired(
    id: string,
    now: string,
    reasonFor: (step: string) => string,
  ): Promise<string | undefined>;
  requestCancel(id: string, now: string): Promise<'cancelled' | 'requested' | 'finished'>;
  statusOf(id: string): Promise<DeploymentStatus | undefined>;
}

export interface DeploymentsServiceOptions {
  readonly state: DeploymentsState;
  readonly clock?: () => Date;
}

/** The steps every deploy task goes through, in order. */
export const DEPLOY_STEPS = ['validate', 'build', 'release', 'rollout', 'finalize'] as const;
export const UNDEPLOY_STEPS = ['stop', 'finalize'] as const;

/**
 * Deployment tasks: queued by the API, claimed by exactly one deployer (compare-and-set plus a
 * lease the holder renews), finished by their holder, failed by anyone once the lease lapsed.
 */
export class DeploymentsService {
  readonly #state: DeploymentsState;
  readonly #clock: () => Date;

  constructor(options: DeploymentsServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  #now(offsetMs = 0): string {
    return new Date(this.#clock().getTime() + offsetMs).toISOString();
  }

  /**
   * Queues a task for the app. ConflictError (DEPLOYMENT_ACTIVE) when one is already queued or
   * running: the store's partial unique index decides, so two controllers cannot both queue.
   */
  async enqueue(input: {
    appId: string;
    appName: string;
    kind: DeploymentKind;
    source: DeploymentSource;
    /** A local file holding the uploaded bundle; the store keeps a copy for the task. */
    bundle?: { readonly file: string; readonly bytes: number };
    options: DeploymentOptions;
  }): Promise<Deployment> {
    const steps: StepRecord[] = (input.kind === 'deploy' ? DEPLOY_STEPS : UNDEPLOY_STEPS).map(
      (name) => ({
        name,
        status: 'pending',
        startedAt: null,
        finishedAt: null,
      }),
    );
    const deployment: Deployment = {
      id: randomUUID(),
      appId: input.appId,
      kind: input.kind,
      status: 'queued',
      createdAt: this.#now(),
      startedAt: null,
      finishedAt: null,
      source: input.source,
      bundleBytes: input.bundle?.bytes ?? null,
      options: input.options,
      currentStep: null,
      steps,
      log: '',
      error: null,
      processErrors: null,
      projectMetadata: null,
      stack: null,
      releaseVersion: null,
      cancelRequested: false,
    };
    try {
      await this.#state.insert(deployment, input.bundle?.file);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          `app '${input.appName}' has a deployment task queued or running; wait for it or cancel it`,
          ErrorCodes.DEPLOYMENT_ACTIVE,
        );
      }
      throw error;
    }
    return deployment;
  }

  latest(appId: string): Promise<Deployment | undefined> {
    return this.#state.latestForApp(appId);
  }

  listForApp(appId: string): Promise<Deployment[]> {
    return this.#state.listForApp(appId);
  }

  /** The task `id` of the app; NotFoundError if there is none (or it is another app's). */
  async get(appId: string, id: string): Promise<Deployment> {
    const deployment = await this.#state.get(id);
    if (!deployment || deployment.appId !== appId) {
      throw new NotFoundError(
        `no deployment '${id.slice(0, 64)}' for this app`,
        ErrorCodes.DEPLOYMENT_NOT_FOUND,
      );
    }
    return deployment;
  }

  /** One entry per app (its latest task), newest first. */
  async page(query: {
    ownerId: string | undefined;
    start: number;
    count: number;
  }): Promise<Page<Deployment>> {
    if (!Number.isInteger(query.start) || query.start < 0)
      throw new InputError(`start must be 0 or more`);
    if (!Number.isInteger(query.count) || query.count < 0)
      throw new InputError(`count must be 0 or more`);
    const { total, entries } = await this.#state.latestPerApp(query);
    return { start: query.start, totalEntriesCount: total, entriesCount: entries.length, entries };
  }

  queued(limit: number): Promise<Deployment[]> {
    return this.#state.queued(limit);
  }

  /** Claims a queued task; `firstStep` is recorded at once, so a crash right after names it. */
  claim(
    id: string,
    owner: string,
    leaseMs: number,
    firstStep: string | null = null,
  ): Promise<boolean> {
    return this.#state.claim(id, owner, this.#now(), this.#now(leaseMs), firstStep);
  }

  heartbeat(id: string, owner: string, leaseMs: number) {
    return this.#state.heartbeat(id, owner, this.#now(leaseMs));
  }

  progress(
    id: string,
    owner: string,
    progress: DeploymentProgress,
  ): Promise<{ held: boolean; cancelRequested: boolean }> {
    return this.#state.progress(id, owner, progress);
  }

  finish(id: string, owner: string, outcome: DeploymentOutcome): Promise<boolean> {
    return this.#state.finish(id, owner, outcome, this.#now());
  }

  /** Fails every task whose holder stopped renewing its lease. Returns the ids this call failed. */
  async failAbandoned(): Promise<string[]> {
    const now = this.#now();
    const failed: string[] = [];
    for (const id of await this.#state.expiredLeases(now)) {
      const done = await this.#state.failExpired(
        id,
        now,
        (step) => `controller stopped during ${step}`,
      );
      if (done) failed.push(done);
    }
    return failed;
  }

  /** Cancels a queued task at once, or asks the holder of a running one to stop. */
  async cancel(appId: string, id: string): Promise<'cancelled' | 'requested' | 'finished'> {
    await this.get(appId, id);
    return this.#state.requestCancel(id, this.#now());
  }

  /** Writes the task's uploaded bundle to a local file for the deployer. */
  readBundle(id: string, destinationFile: string): Promise<void> {
    return this.#state.readBundle(id, destinationFile);
  }

  /** The current time, as the service sees it (for step records). */
  now(): string {
    return this.#now();
  }
}
