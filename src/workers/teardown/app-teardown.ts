import type { App, AppsService } from '../../domain/apps/index.js';
import type { Logger } from '../../logging/index.js';
import type { ReleaseRunner } from '../rollout/index.js';

/** Something of an app's kept outside the store, by the app's name or id. */
export interface AppLeftovers {
  /** What it is, for the log: 'git repository', 'images', 'slugs'. */
  readonly what: string;
  remove(app: App): Promise<void>;
}

export interface AppTeardownOptions {
  readonly apps: AppsService;
  readonly runner: ReleaseRunner;
  /**
   * What is keyed by the app's name (its git repository, images): removed before the app's
   * row, so that a new app of the same name can never find it.
   */
  readonly byName: readonly AppLeftovers[];
  /** What is keyed by the app's id (slugs): removed after the row, at leisure. */
  readonly byId: readonly AppLeftovers[];
  /** Refuses while add-ons are attached, or destroys and detaches them (`withAddons`). */
  readonly addons?: {
    beforeAppDestroyed(app: App, withAddons: boolean): Promise<void>;
  };
  readonly logger: Logger;
}

/**
 * Destroys an app whole: its routes and units, every process it left, its logs and private
 * files, what it kept by name (git repository, images), then its row (config, releases and
 * formation cascade), then what it kept by id. Until the row is gone a failure leaves the app
 * in place, undeployed, and destroying it again finishes the job; a new app of the same name
 * therefore starts empty.
 */
export class AppTeardown {
  readonly #o: AppTeardownOptions;

  constructor(options: AppTeardownOptions) {
    this.#o = options;
  }

  async destroy(app: App, options?: { readonly withAddons: boolean }): Promise<void> {
    const log = (line: string) => this.#o.logger.info({ app: app.name }, line);
    // First: an app whose add-ons must stay is refused before anything of it is touched.
    await this.#o.addons?.beforeAppDestroyed(app, options?.withAddons ?? false);
    await this.#o.runner.removeApp(app, log);
    for (const leftover of this.#o.byName) await leftover.remove(app);
    await this.#o.apps.destroy(app);
    for (const leftover of this.#o.byId) {
      await leftover.remove(app).catch((error: unknown) => {
        this.#o.logger.warn({ err: error, app: app.name }, `could not remove the ${leftover.what}`);
      });
    }
    log('destroyed the app and everything it kept');
  }
}
