// Where a unit the container driver tracks is in its life, as one value, and the moves between
// those states, written once: the driver's handlers ask this one field and move it only here.
import type { UnitState as UnitPhase } from '../driver.js';

/**
 * The state of one tracked unit:
 * - `starting`: its container is made; the engine has not yet said it started.
 * - `up`: its container runs, or should (an exit not yet seen).
 * - `exited`: an exit is being handled (looked at, its last output copied, a restart decided);
 *   `handled` settles when that is done, so that a stop can wait for it.
 * - `restarting`: waiting out the backoff (`timer`), then asking the engine to start it again.
 * - `gave-up`: it exited too often, or could not be started again; so until it is stopped.
 * - `stopping`: stop() has it; nothing restarts it any more.
 * - `gone`: forgotten; nothing of it is written any more.
 */
export type UnitLifecycle =
  | { readonly kind: 'starting' }
  | { readonly kind: 'up' }
  | { readonly kind: 'exited'; readonly handled: Promise<void> }
  | { readonly kind: 'restarting'; readonly timer: NodeJS.Timeout | undefined }
  | { readonly kind: 'gave-up' }
  | { readonly kind: 'stopping' }
  | { readonly kind: 'gone' };

/** The name of a state. */
export type LifecycleKind = UnitLifecycle['kind'];

/**
 * The moves allowed from each state. An exit seen while starting is handled (a container can
 * die before the engine's answer to start arrives); an exit that turns out not to be one (the
 * container runs, or the engine did not answer) goes back to `up`, so the next event or rescan
 * looks again. Every state but `gone` may be stopped; only a stop ends in `gone`, or a start
 * the engine refused.
 */
export const LifecycleMoves: Readonly<Record<LifecycleKind, readonly LifecycleKind[]>> =
  Object.freeze({
    starting: Object.freeze(['up', 'exited', 'stopping', 'gone'] as const),
    up: Object.freeze(['exited', 'stopping'] as const),
    exited: Object.freeze(['up', 'restarting', 'gave-up', 'stopping'] as const),
    restarting: Object.freeze(['up', 'gave-up', 'stopping'] as const),
    'gave-up': Object.freeze(['stopping'] as const),
    stopping: Object.freeze(['gone'] as const),
    gone: Object.freeze([] as const),
  });

/** A move the table does not allow: a bug in the driver, never the unit's fault. */
export class IllegalLifecycleMove extends Error {
  override readonly name = 'IllegalLifecycleMove';
}

/** Whether the table allows moving from `from` to `to`. */
export function canMove(from: LifecycleKind, to: LifecycleKind): boolean {
  return LifecycleMoves[from].includes(to);
}

/** The next state, or IllegalLifecycleMove when the table does not allow the move. */
export function moveLifecycle(from: UnitLifecycle, to: UnitLifecycle): UnitLifecycle {
  if (!canMove(from.kind, to.kind)) {
    throw new IllegalLifecycleMove(`a unit cannot go from ${from.kind} to ${to.kind}`);
  }
  return to;
}

/** The state a newly tracked unit starts in: adopted ones as their saved state says. */
export function initialLifecycle(how: 'created' | 'adopted', crashed: boolean): UnitLifecycle {
  if (how === 'created') return { kind: 'starting' };
  return crashed ? { kind: 'gave-up' } : { kind: 'up' };
}

/**
 * What list() shows of a unit: its tracked state where that says (`stopping`, `gave-up`,
 * `restarting`), else what the engine says of its container. A unit the driver does not track
 * is `crashed` when its saved state says so, and `lost` once its container no longer runs.
 */
export function listedPhase(
  lifecycle: LifecycleKind | undefined,
  savedCrashed: boolean,
  engineState: string,
): UnitPhase {
  if (lifecycle === 'stopping') return 'stopping';
  if (lifecycle === 'gave-up' || savedCrashed) return 'crashed';
  if (lifecycle === 'restarting') return 'restarting';
  if (engineState === 'running') return 'running';
  if (engineState === 'created' || engineState === 'configured') return 'starting';
  return lifecycle === undefined ? 'lost' : 'restarting';
}

/** What start() answers for a unit it has just started, without asking the engine again. */
export function startedPhase(lifecycle: LifecycleKind): UnitPhase {
  switch (lifecycle) {
    case 'starting':
      return 'starting';
    case 'up':
      return 'running';
    case 'exited':
    case 'restarting':
      return 'restarting';
    case 'gave-up':
      return 'crashed';
    case 'stopping':
      return 'stopping';
    case 'gone':
      return 'stopped';
  }
}
