/** The states of a long-running component. */
export type LifecycleState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

const legal: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = Object.freeze({
  created: ['starting', 'stopped'],
  starting: ['running', 'stopping', 'failed'],
  running: ['stopping', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
});

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(component: string, from: LifecycleState, to: LifecycleState) {
    super(`${component} cannot go from ${from} to ${to}`);
  }
}

/**
 * A state machine for one component, with the AbortSignal its loops watch. Moving to
 * `stopping` aborts the signal.
 */
export class Lifecycle {
  readonly #component: string;
  readonly #abort = new AbortController();
  #state: LifecycleState = 'created';

  constructor(component: string) {
    this.#component = component;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** Aborted when the component starts stopping. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  transition(to: LifecycleState): void {
    if (!legal[this.#state].includes(to)) {
      throw new IllegalTransitionError(this.#component, this.#state, to);
    }
    this.#state = to;
    if (to === 'stopping' || to === 'failed') this.#abort.abort();
  }

  /** Throws unless the component is in one of the given states. */
  assert(...states: LifecycleState[]): void {
    if (!states.includes(this.#state)) {
      throw new Error(`${this.#component} is ${this.#state}, expected ${states.join(' or ')}`);
    }
  }
}
