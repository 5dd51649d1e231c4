import { randomUUID } from 'node:crypto';
import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { ErrorCodes, NotFoundError } from '../../errors/index.js';
import { parseAppSchedule } from '../schedules/index.js';
import {
  CRON_OUTPUT_TAIL_BYTES,
  CRON_RUNS_KEPT,
  CronRunStatuses,
  CronTriggers,
  type CronRun,
  type CronRunStatus,
  type CronSchedule,
  type CronScheduleSpec,
  type CronTrigger,
} from './model.js';

/** What claiming a run came to. */
export type CronClaim =
  | { readonly kind: 'started'; readonly run: CronRun; readonly replaced: readonly string[] }
  | { readonly kind: 'skipped'; readonly run: CronRun }
  /** Another controller took the slot first. */
  | { readonly kind: 'taken' };

/** How a run ended. */
export interface CronRunEnd {
  readonly status: Exclude<CronRunStatus, 'running' | 'skipped'>;
  readonly release: number | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly output: string;
  readonly error: string | null;
}

/** What the cron service needs from the store. */
export interface CronState {
  /** The change-stream namespace of schedules, keyed by app id. */
  readonly schedulesNamespace: string;
  /** The change-stream namespace of runs, keyed by app id. */
  readonly runsNamespace: string;
  schedules(appId?: string): Promise<CronSchedule[]>;
  /**
   * Replaces an app's schedules with those of `release`, in one transaction: ids no longer
   * declared go, `suspended` is kept by id, `since` is kept unless the expression changed.
   * Nothing happens when the app's schedules came from a newer release. True when it wrote.
   */
  replaceSchedules(
    appId: string,
    release: number,
    specs: readonly CronScheduleSpec[],
    now: string,
  ): Promise<boolean>;
  setSuspended(appId: string, id: string, suspended: boolean, now: string): Promise<boolean>;
  /** Removes every schedule of the app (its runs stay listed); true when there were some. */
  removeSchedules(appId: string): Promise<boolean>;
  /** The newest slot a run (or skip) was recorded for. */
  lastSlot(appId: string, scheduleId: string): Promise<string | undefined>;
  /**
   * Inserts `run` in one transaction with the policy: `forbid` with a run going on makes it a
   * skip; `replace` asks the running ones to stop. A unique violation on the slot is 'taken'.
   */
  claim(
    run: CronRun,
    policy: CronSchedule['concurrencyPolicy'],
    leaseUntil: string,
  ): Promise<CronClaim>;
  finish(runId: string, end: CronRunEnd, finishedAt: string): Promise<void>;
  runs(appId: string, scheduleId?: string, limit?: number): Promise<CronRun[]>;
  /** The newest run of each schedule of the app. */
  lastRuns(appId: string): Promise<Map<string, CronRun>>;
  /** Of `runIds`, those a newer run asked to stop. */
  stopRequested(runIds: readonly string[]): Promise<string[]>;
  renewLeases(runIds: readonly string[], until: string): Promise<void>;
  /** Fails running runs whose lease lapsed before `now`; returns how many. */
  failAbandoned(now: string, error: string): Promise<number>;
  /** Keeps the newest `keep` runs of a schedule. */
  prune(appId: string, scheduleId: string, keep: number): Promise<void>;
}

/** A schedule whose slot has come. */
export interface DueSlot {
  readonly schedule: CronSchedule;
  readonly slot: Date;
  readonly trigger: CronTrigger;
}

/** Windows searched, newest first, for the latest slot of a schedule that is due. */
const LOOKBACK_MS = [60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 400 * 86_400_000];

export interface CronServiceOptions {
  readonly state: CronState;
  readonly clock?: () => Date;
}

/**
 * Apps' scheduled commands: which schedules an app has (from its live release), which slots
 * are due, and the record of every run. Running the command is the cron worker's; the rules
 * (one run per slot, the concurrency policy, at most one catch-up) are here.
 */
export class CronService {
  readonly #state: CronState;
  readonly #clock: () => Date;

  constructor(options: CronServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to any app's schedules. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.schedulesNamespace);
  }

  /** Changes to any app's runs (a run started, ended, or was asked to stop). */
  runChanges(): ChangeTopic {
    return changeTopic(this.#state.runsNamespace);
  }

  /** Changes to the schedules and runs of one app. */
  changesOf(appId: string): ChangeTopic[] {
    return [
      changeTopic(this.#state.schedulesNamespace, appId),
      changeTopic(this.#state.runsNamespace, appId),
    ];
  }

  schedules(appId?: string): Promise<CronSchedule[]> {
    return this.#state.schedules(appId);
  }

  /** The schedule, or NotFoundError (NOT_FOUND). */
  async schedule(appId: string, id: string): Promise<CronSchedule> {
    const found = (await this.#state.schedules(appId)).find((s) => s.id === id);
    if (!found) {
      throw new NotFoundError(`no cron schedule '${id.slice(0, 60)}'`, ErrorCodes.NOT_FOUND);
    }
    return found;
  }

  /** The schedules of `release`'s manifests become the app's (see CronState.replaceSchedules). */
  replaceSchedules(
    appId: string,
    release: number,
    specs: readonly CronScheduleSpec[],
  ): Promise<boolean> {
    for (const spec of specs) parseAppSchedule(spec.schedule);
    return this.#state.replaceSchedules(appId, release, specs, this.#clock().toISOString());
  }

  /** An app that is no longer deployed has no schedules (its runs stay listed). */
  removeSchedules(appId: string): Promise<boolean> {
    return this.#state.removeSchedules(appId);
  }

  /** Suspends or resumes; a resumed schedule runs from its next slot, never the missed ones. */
  async setSuspended(appId: string, id: string, suspended: boolean): Promise<CronSchedule> {
    await this.schedule(appId, id);
    await this.#state.setSuspended(appId, id, suspended, this.#clock().toISOString());
    return this.schedule(appId, id);
  }

  /** When the schedule next runs: undefined while it is suspended or in maintenance. */
  async nextRun(schedule: CronSchedule): Promise<Date | undefined> {
    if (schedule.suspended || schedule.maintenance) return undefined;
    const last = await this.#state.lastSlot(schedule.appId, schedule.id);
    const from = new Date(Math.max(Date.parse(schedule.since), last ? Date.parse(last) : 0));
    return parseAppSchedule(schedule.schedule).next(from);
  }

  /**
   * The slots due now, one per schedule: the latest slot that has come. When slots before it
   * were missed (the controllers were down), only the latest runs, as a catch-up: never a
   * burst. Also when the next one comes after these, for the worker's timer.
   */
  async due(): Promise<{ due: DueSlot[]; next: Date | undefined }> {
    const now = this.#clock();
    const due: DueSlot[] = [];
    let next: Date | undefined;
    for (const schedule of await this.#state.schedules()) {
      if (schedule.suspended || schedule.maintenance) continue;
      const parsed = parseAppSchedule(schedule.schedule);
      const last = await this.#state.lastSlot(schedule.appId, schedule.id);
      const from = Math.max(Date.parse(schedule.since), last ? Date.parse(last) : 0);
      const first = parsed.next(new Date(from));
      if (first > now) {
        if (next === undefined || first < next) next = first;
        continue;
      }
      let latest = first;
      for (const window of LOOKBACK_MS) {
        let slot = parsed.next(new Date(Math.max(from, now.getTime() - window)));
        if (slot > now) continue;
        for (let after = parsed.next(slot); after <= now; after = parsed.next(slot)) slot = after;
        latest = slot;
        break;
      }
      due.push({
        schedule,
        slot: latest,
        trigger:
          latest.getTime() === first.getTime() ? CronTriggers.schedule : CronTriggers.catchUp,
      });
      const following = parsed.next(latest);
      if (next === undefined || following < next) next = following;
    }
    return { due, next };
  }

  /** Records a run of `schedule` (for `slot`, or by hand) under its policy. */
  claim(
    schedule: CronSchedule,
    request: { readonly slot?: Date; readonly trigger: CronTrigger; readonly leaseMs: number },
  ): Promise<CronClaim> {
    const now = this.#clock();
    return this.#state.claim(
      {
        id: randomUUID(),
        appId: schedule.appId,
        scheduleId: schedule.id,
        slot: request.slot?.toISOString() ?? null,
        trigger: request.trigger,
        status: CronRunStatuses.running,
        command: schedule.command,
        release: null,
        stopRequested: false,
        startedAt: now.toISOString(),
        finishedAt: null,
        exitCode: null,
        signal: null,
        output: '',
        error: null,
      },
      schedule.concurrencyPolicy,
      new Date(now.getTime() + request.leaseMs).toISOString(),
    );
  }

  /** Records how a run ended (its output cut to its tail) and prunes the schedule's old runs. */
  async finish(run: CronRun, end: CronRunEnd): Promise<void> {
    await this.#state.finish(
      run.id,
      { ...end, output: outputTail(end.output) },
      this.#clock().toISOString(),
    );
    await this.#state.prune(run.appId, run.scheduleId, CRON_RUNS_KEPT);
  }

  runs(appId: string, scheduleId?: string, limit = 50): Promise<CronRun[]> {
    return this.#state.runs(appId, scheduleId, limit);
  }

  lastRuns(appId: string): Promise<Map<string, CronRun>> {
    return this.#state.lastRuns(appId);
  }

  stopRequested(runIds: readonly string[]): Promise<string[]> {
    return runIds.length === 0 ? Promise.resolve([]) : this.#state.stopRequested(runIds);
  }

  renewLeases(runIds: readonly string[], leaseMs: number): Promise<void> {
    if (runIds.length === 0) return Promise.resolve();
    const until = new Date(this.#clock().getTime() + leaseMs).toISOString();
    return this.#state.renewLeases(runIds, until);
  }

  /** Fails runs whose controller stopped renewing their lease (it died). */
  failAbandoned(): Promise<number> {
    return this.#state.failAbandoned(
      this.#clock().toISOString(),
      'its controller stopped while it ran',
    );
  }
}

/** The last CRON_OUTPUT_TAIL_BYTES of `output`, cut at a character boundary. */
export function outputTail(output: string): string {
  const bytes = Buffer.from(output, 'utf8');
  if (bytes.length <= CRON_OUTPUT_TAIL_BYTES) return output;
  return bytes
    .subarray(bytes.length - CRON_OUTPUT_TAIL_BYTES)
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
}
