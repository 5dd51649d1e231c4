/** The kinds of change the log records; values are bits so several can be masked together. */
export const EditType = Object.freeze({ Create: 1, Update: 2, Delete: 4 } as const);
export type EditType = (typeof EditType)[keyof typeof EditType];

/** A mask matching every edit type. */
export const AllEdits = EditType.Create | EditType.Update | EditType.Delete;

/**
 * One changed row, as watchers see it. Several changes to one key within one read coalesce into
 * one event: `editTypes` has a bit for each kind that happened, `lastEditType` says which came
 * last (a row created and deleted in one batch is `{editTypes: 5, lastEditType: Delete}`).
 */
export interface ChangeEvent {
  readonly namespace: string;
  readonly changed: string;
  readonly editTypes: number;
  readonly lastEditType: EditType;
}

/** A subscriber fell too far behind and was dropped; it should resubscribe and re-query. */
export class SubscriberTooSlowError extends Error {
  override readonly name = 'SubscriberTooSlowError';
  readonly code = 'CHANGES_SUBSCRIBER_TOO_SLOW';
  constructor(limit: number) {
    super(`the subscriber fell more than ${limit} events behind the change stream and was dropped`);
  }
}

/** The change stream stopped, ending every subscription. */
export class ChangeStreamStoppedError extends Error {
  override readonly name = 'ChangeStreamStoppedError';
  readonly code = 'CHANGES_STREAM_STOPPED';
  constructor(reason = 'the change stream stopped') {
    super(reason);
  }
}
