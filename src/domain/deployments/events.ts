import type { DeploymentStatus, StepStatus } from './model.js';

/** The kinds of a task's progress events. */
export const DeploymentEventKinds = Object.freeze({
  stepStarted: 'step-started',
  line: 'line',
  stepFinished: 'step-finished',
  finished: 'finished',
  trimmed: 'trimmed',
} as const);

/** What an event says, by kind; `id`, `at` and `step` are common to all. */
export type DeploymentEventBody =
  | { readonly kind: 'step-started' }
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'step-finished'; readonly status: StepStatus }
  | {
      readonly kind: 'finished';
      readonly status: Extract<DeploymentStatus, 'succeeded' | 'failed' | 'cancelled'>;
      readonly error: string | null;
      readonly release: number | null;
    }
  /** Lines before this point were dropped to keep the task under its byte limit. */
  | { readonly kind: 'trimmed'; readonly lines: number; readonly bytes: number };

/** An event as written: its step (null for the task itself) and time, then its body. */
export type NewDeploymentEvent = DeploymentEventBody & {
  readonly step: string | null;
  readonly at: string;
};

/** An event as stored: `id` is the cursor (it only grows; read `after` the last one seen). */
export type DeploymentEvent = NewDeploymentEvent & { readonly id: number };

/** A page of events after a cursor; `next` is the cursor to read after next time. */
export interface DeploymentEventPage {
  readonly events: readonly DeploymentEvent[];
  readonly next: number;
}

/** The fields of an event other than at, step and kind: what the store keeps as JSON. */
export function payloadOf(event: NewDeploymentEvent): Record<string, unknown> {
  const { kind: _kind, step: _step, at: _at, ...rest } = event;
  return rest;
}

/**
 * The event as one line of the old text log (`<at> <step>: <text>`), for GET's `log` field and
 * for `git push`'s remote lines; undefined for events a log does not show.
 */
export function logTextOf(event: DeploymentEvent | NewDeploymentEvent): string | undefined {
  const prefix = event.step === null ? '' : `${event.step}: `;
  switch (event.kind) {
    case 'step-started':
      return `${prefix}started`;
    case 'line':
      return `${prefix}${event.text}`;
    case 'step-finished':
      return event.status === 'succeeded' ? `${prefix}done` : undefined;
    case 'finished':
      return event.error ?? undefined;
    case 'trimmed':
      return `(${event.lines} earlier line(s), ${event.bytes} bytes, were dropped to keep the log under its limit)`;
  }
}

/** What one trim did: bytes the store no longer holds, and the marker it left. */
export interface TrimResult {
  readonly freedBytes: number;
  readonly markerBytes: number;
  readonly lines: number;
}

/** The bytes an event's payload takes in the store (what the per-task limit counts). */
export function payloadBytes(event: NewDeploymentEvent): number {
  return Buffer.byteLength(JSON.stringify(payloadOf(event)));
}
