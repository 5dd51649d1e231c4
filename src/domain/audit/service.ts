import { randomUUID } from 'node:crypto';
import { InputError } from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import { AuditStateSql } from './state.js';

export const AuditOutcomes = ['success', 'failure'] as const;
export type AuditOutcome = (typeof AuditOutcomes)[number];

/** One call to record: who did what to what, and how it ended. Never put a secret here. */
export interface AuditEntryInput {
  readonly actorId?: string | undefined;
  readonly actorName?: string | undefined;
  readonly tokenId?: string | undefined;
  /** What was attempted, e.g. 'POST /api/v1/apps'. */
  readonly action: string;
  /** What it concerned, e.g. an app name. */
  readonly target?: string | undefined;
  readonly outcome: AuditOutcome;
  /** The HTTP status (or an equivalent) the call ended with. */
  readonly status: number;
  readonly requestId?: string | undefined;
  readonly detail?: string | undefined;
}

/** One row of the audit log as listings show it. */
export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actorId: string | null;
  readonly actorName: string | null;
  readonly tokenId: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  readonly status: number;
  readonly requestId: string | null;
  readonly detail: string | null;
}

/** A page of the audit log, in the paging shape of the deployments listing. */
export interface AuditPage {
  readonly start: number;
  readonly totalEntriesCount: number;
  readonly entriesCount: number;
  readonly entries: AuditEntry[];
}

/** What the audit rules need from storage (implemented by state.ts over the store). */
export interface AuditState {
  insert(entry: AuditEntry): Promise<void>;
  count(): Promise<number>;
  /** Entries newest first, skipping `start`, at most `count`. */
  page(start: number, count: number): Promise<AuditEntry[]>;
}

export interface AuditServiceOptions {
  readonly store: Store;
  readonly clock?: () => Date;
}

export const MAX_AUDIT_PAGE = 500;
export const DEFAULT_AUDIT_PAGE = 20;
/** Longer free-text fields are cut, so that a record never fails for its size. */
export const MAX_AUDIT_FIELD_LENGTH = 1024;

function optional(value: string | undefined): string | null {
  return value === undefined ? null : value.slice(0, MAX_AUDIT_FIELD_LENGTH);
}

/** The audit log: one row per mutating call, successful or not. */
export class AuditService {
  readonly #state: AuditState;
  readonly #clock: () => Date;

  constructor(options: AuditServiceOptions) {
    this.#state = new AuditStateSql(options.store);
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Records one entry (a single insert). It rejects when the store does: whether a request
   * fails for that or logs and continues is the caller's choice (the API logs and continues).
   */
  async record(entry: AuditEntryInput): Promise<void> {
    if (!(AuditOutcomes as readonly string[]).includes(entry.outcome)) {
      throw new InputError(`outcome must be one of ${AuditOutcomes.join(', ')}`);
    }
    if (!Number.isInteger(entry.status)) throw new InputError('status must be an integer');
    if (entry.action === '') throw new InputError('action must not be empty');
    await this.#state.insert({
      id: randomUUID(),
      at: this.#clock().toISOString(),
      actorId: optional(entry.actorId),
      actorName: optional(entry.actorName),
      tokenId: optional(entry.tokenId),
      action: entry.action.slice(0, MAX_AUDIT_FIELD_LENGTH),
      target: optional(entry.target),
      outcome: entry.outcome,
      status: entry.status,
      requestId: optional(entry.requestId),
      detail: optional(entry.detail),
    });
  }

  /**
   * A page of the log, newest first. `start` (default 0) is an integer ≥ 0 and `count`
   * (default 20) an integer from 0 to 500, else InputError. A start past the end gives an
   * empty page that still tells the total.
   */
  async list(
    page: { readonly start?: number | undefined; readonly count?: number | undefined } = {},
  ): Promise<AuditPage> {
    const start = page.start ?? 0;
    const count = page.count ?? DEFAULT_AUDIT_PAGE;
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new InputError(`start must be an integer of 0 or more, got ${start}`);
    }
    if (!Number.isInteger(count) || count < 0 || count > MAX_AUDIT_PAGE) {
      throw new InputError(`count must be an integer from 0 to ${MAX_AUDIT_PAGE}, got ${count}`);
    }
    const totalEntriesCount = await this.#state.count();
    const entries =
      count === 0 || start >= totalEntriesCount ? [] : await this.#state.page(start, count);
    return { start, totalEntriesCount, entriesCount: entries.length, entries };
  }
}
