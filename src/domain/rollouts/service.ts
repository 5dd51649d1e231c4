import { changeTopic, type ChangeTopic } from '../../changes/index.js';

/** Which release of an app serves. */
export interface LiveRelease {
  readonly appId: string;
  /** The release whose units serve, or null when a rollout is yet to succeed. */
  readonly version: number | null;
  readonly failedVersion: number | null;
  readonly failure: string | null;
  readonly updatedAt: string;
}

/** What the rollouts service needs from the store. */
export interface RolloutsState {
  get(appId: string): Promise<LiveRelease | undefined>;
  list(): Promise<LiveRelease[]>;
  put(live: LiveRelease): Promise<void>;
  remove(appId: string): Promise<boolean>;
  /** The change-stream namespace of the live records, keyed by app id. */
  readonly changesNamespace: string;
}

export interface RolloutsServiceOptions {
  readonly state: RolloutsState;
  readonly clock?: () => Date;
}

/** The record of what runs: written by rollouts and undeploys, read by the reconciler. */
export class RolloutsService {
  readonly #state: RolloutsState;
  readonly #clock: () => Date;

  constructor(options: RolloutsServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to what serves any app: a rollout succeeded or failed, an app was undeployed. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to what serves the app `appId`. */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  get(appId: string): Promise<LiveRelease | undefined> {
    return this.#state.get(appId);
  }

  /** Every app that is deployed (has a record). */
  list(): Promise<LiveRelease[]> {
    return this.#state.list();
  }

  /** Release `version` now serves the app. */
  async succeeded(appId: string, version: number): Promise<void> {
    const current = await this.#state.get(appId);
    await this.#state.put({
      appId,
      version,
      failedVersion: current?.failedVersion === version ? null : (current?.failedVersion ?? null),
      failure: current?.failedVersion === version ? null : (current?.failure ?? null),
      updatedAt: this.#clock().toISOString(),
    });
  }

  /** Release `version` failed to roll out; whatever served before keeps serving. */
  async failed(appId: string, version: number, failure: string): Promise<void> {
    const current = await this.#state.get(appId);
    await this.#state.put({
      appId,
      version: current?.version ?? null,
      failedVersion: version,
      failure,
      updatedAt: this.#clock().toISOString(),
    });
  }

  /** The app was undeployed: nothing serves it and nothing should. */
  forget(appId: string): Promise<boolean> {
    return this.#state.remove(appId);
  }
}
