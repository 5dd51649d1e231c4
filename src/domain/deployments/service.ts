import { randomUUID } from 'node:crypto';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../../errors/index.js';
import { isUniqueViolation } from '../../store/index.js';
import { isActive } from './model.js';
import {
  changeTopic,
  NotifyWatcher,
  type ChangeTopic,
  type WatcherHub,
} from '../../changes/index.js';
import type {
  DeploymentEvent,
  DeploymentEventPage,
  NewDeploymentEvent,
  TrimResult,
} from './events.js';
import { DeploymentTask, type DeploymentTaskLimits, type DeploymentTaskOptions } from './task.js';
import type {
  AppDeployment,
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
  }): Promise<{ total: number; entries: AppDeployment[] }>;
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
  /**
   * Appends events and writes progress if `owner` still holds the lease; says whether it does
   * and if a cancel is asked.
   */
  progress(
    id: string,
    owner: string,
    progress: DeploymentProgress,
    events: readonly NewDeploymentEvent[],
  ): Promise<{ held: boolean; cancelRequested: boolean }>;
  finish(
    id: string,
    owner: string,
    outcome: DeploymentOutcome,
    now: string,
    events: readonly NewDeploymentEvent[],
  ): Promise<boolean>;
  /** Up to `limit` events with an id above `after`, oldest first. */
  events(id: string, after: number, limit: number): Promise<DeploymentEvent[]>;
  /** Drops the oldest lines until `dropBytes` are freed, leaving a `trimmed` marker. */
  trimEvents(id: string, dropBytes: number): Promise<TrimResult>;
  /** The task's log as text, its last MAX_LOG_CHARS characters. */
  logTail(id: string): Promise<string>;
  /** The change-stream namespace of the events, keyed by deployment id. */
  readonly eventsNamespace: string;
  /** The change-stream namespace of the tasks, keyed by app id. */
  readonly tasksNamespace: string;
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
  /** The payload bytes of events each task keeps (compiled: --deploy-log-limit). */
  readonly maxEventBytes: number;
  /** How often task handles write events; tests change it to see batching. */
  readonly flush?: Partial<Omit<DeploymentTaskLimits, 'maxEventBytes'>>;
}

/** How often a task's handle writes, unless told otherwise: not an operator's setting. */
export const DEFAULT_TASK_FLUSH: Omit<DeploymentTaskLimits, 'maxEventBytes'> = Object.freeze({
  flushMs: 100,
  flushLines: 500,
});

/** The most events one read returns. */
export const MAX_EVENTS_PAGE = 1000;

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
  readonly #taskLimits: DeploymentTaskLimits;

  constructor(options: DeploymentsServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
    this.#taskLimits = Object.freeze({
      ...DEFAULT_TASK_FLUSH,
      ...options.flush,
      maxEventBytes: options.maxEventBytes,
    });
  }

  #now(offsetMs = 0): string {
    return new Date(this.#clock().getTime() + offsetMs).toISOString();
  }

  /** Changes to any app's tasks: queued, claimed, progressed, finished. */
  taskChanges(): ChangeTopic {
    return changeTopic(this.#state.tasksNamespace);
  }

  /** Changes to the tasks of the app `appId`. */
  taskChangesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.tasksNamespace, appId);
  }

  /** New progress events of the task `id` (`follow` reads them). */
  eventsOf(id: string): ChangeTopic {
    return changeTopic(this.#state.eventsNamespace, id);
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

  /**
   * The rule that an app runs one task at a time, asked before anything is read or built:
   * ConflictError (DEPLOYMENT_ACTIVE) when the app has a task queued or running. `enqueue`
   * holds to it again through the store's unique index, so two controllers cannot both queue.
   */
  async assertIdle(app: { readonly id: string; readonly name: string }): Promise<void> {
    const latest = await this.latest(app.id);
    if (latest && isActive(latest.status)) {
      throw new ConflictError(
        `app '${app.name}' has a deployment task queued or running (${latest.status}); wait for it or cancel it`,
        ErrorCodes.DEPLOYMENT_ACTIVE,
      );
    }
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

  /** One entry per app (its latest task, with the app's name), newest first. */
  async page(query: {
    ownerId: string | undefined;
    start: number;
    count: number;
  }): Promise<Page<AppDeployment>> {
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

  /**
   * The handle the holder of a claimed task writes its progress through: steps, lines and the
   * outcome, as events.
   */
  openTask(id: string, owner: string, options: DeploymentTaskOptions): DeploymentTask {
    return new DeploymentTask({
      id,
      owner,
      state: this.#state,
      now: (offsetMs = 0) => this.#now(offsetMs),
      options,
      limits: this.#taskLimits,
    });
  }

  /**
   * Events of the app's task `id` after the cursor `after`, oldest first, at most `limit`;
   * `next` is the cursor to pass next time (unchanged when there is nothing new).
   */
  async events(
    appId: string,
    id: string,
    query: { after?: number; limit?: number } = {},
  ): Promise<DeploymentEventPage> {
    const { after, limit } = this.#cursorOf(query);
    await this.get(appId, id);
    const events = await this.#state.events(id, after, limit);
    return { events, next: events.at(-1)?.id ?? after };
  }

  /**
   * Follows the app's task `id` from the cursor `after`: yields each page of new events as the
   * change stream says they were written (never polling), and ends after the `finished` event,
   * when the task ended without one (a task from before events), or when `signal` aborts.
   * It subscribes before its first read, so no event falls between the page and the stream.
   */
  async *follow(
    hub: WatcherHub,
    appId: string,
    id: string,
    query: { after?: number; limit?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<DeploymentEventPage> {
    let { after: cursor } = this.#cursorOf(query);
    const { limit } = this.#cursorOf(query);
    await this.get(appId, id);
    const watcher = new NotifyWatcher(hub, {
      filters: [this.eventsOf(id)],
      ...(query.signal ? { signal: query.signal } : {}),
    });
    try {
      // The watcher's first signal comes at once: the initial page.
      for await (const _changed of watcher) {
        for (;;) {
          const events = await this.#state.events(id, cursor, limit);
          if (events.length === 0) break;
          cursor = events.at(-1)?.id ?? cursor;
          yield { events, next: cursor };
          if (events.some((e) => e.kind === 'finished')) return;
          if (events.length < limit) break;
        }
        const status = await this.#state.statusOf(id);
        if (status === undefined || !isActive(status)) {
          // Its finish committed with its last events: reading to the end now has them all.
          for (;;) {
            const events = await this.#state.events(id, cursor, limit);
            if (events.length === 0) return;
            cursor = events.at(-1)?.id ?? cursor;
            yield { events, next: cursor };
            if (events.length < limit) return;
          }
        }
      }
    } finally {
      watcher.close();
    }
  }

  /** The task's log as text (`<time> <step>: <line>`), its last MAX_LOG_CHARS characters. */
  logOf(id: string): Promise<string> {
    return this.#state.logTail(id);
  }

  #cursorOf(query: { after?: number; limit?: number }): { after: number; limit: number } {
    const after = query.after ?? 0;
    const limit = query.limit ?? MAX_EVENTS_PAGE;
    if (!Number.isSafeInteger(after) || after < 0) throw new InputError('after must be 0 or more');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS_PAGE)
      throw new InputError(`limit must be 1 to ${MAX_EVENTS_PAGE}`);
    return { after, limit };
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
