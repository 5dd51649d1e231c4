import type { WatcherHub } from '../../changes/index.js';
import type { AddonsService } from '../../domain/addons/index.js';
import type { LifecycleState } from '../../lifecycle/index.js';
import type { Logger } from '../../logging/index.js';
import { CoalescingWorker } from '../watch-loop.js';

export interface ScheduledBackupsOptions {
  readonly addons: AddonsService;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /** How often it looks whether a slot has come (a schedule may name every second). */
  readonly checkIntervalMs: number;
}

/**
 * Backs add-ons up on their schedules: a CoalescingWorker whose run is one pass of
 * `AddonsService.runScheduledBackups`, woken by changes to add-ons (a schedule set) and by
 * its interval. Runs never overlap, so an add-on has at most one scheduled backup at a time;
 * a slot's backup is named by the slot, so of several controllers only one makes it.
 */
export class ScheduledBackups {
  readonly #worker: CoalescingWorker;
  readonly #logger: Logger;
  /** The earliest slot still ahead, as the last pass saw it: no pass is due before it. */
  #nextDue: Date | undefined;
  #dirty = true;

  constructor(options: ScheduledBackupsOptions) {
    this.#logger = options.logger.child({ component: 'scheduled-backups' });
    this.#worker = new CoalescingWorker({
      name: 'scheduled backups',
      hub: options.hub,
      topics: [options.addons.changes()],
      logger: this.#logger,
      intervalMs: options.checkIntervalMs,
      run: async () => {
        this.#dirty = false;
        this.#nextDue = await options.addons.runScheduledBackups();
      },
      // Between changes, a pass only once the earliest slot has come.
      onInterval: async () => {
        if (this.#dirty || (this.#nextDue !== undefined && this.#nextDue <= new Date())) {
          await this.#worker.request();
        }
      },
      onRunFailure: (error) => {
        this.#dirty = true;
        this.#logger.error({ err: error }, 'a pass of scheduled backups failed; it runs again');
      },
    });
  }

  get state(): LifecycleState {
    return this.#worker.state;
  }

  start(): void {
    this.#worker.start();
  }

  /** Stops looking; a backup in progress finishes first. */
  async stop(): Promise<void> {
    await this.#worker.stop();
  }
}
