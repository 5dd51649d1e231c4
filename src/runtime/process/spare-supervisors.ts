import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The supervisor, next to this module in src/ and in dist/ alike. */
export const SUPERVISOR_FILE = fileURLToPath(new URL('./supervisor.js', import.meta.url));

/**
 * How long after a spare is taken its successor is started. A Node that boots takes a CPU for
 * tens of milliseconds: started at once, it would slow down the boot of the unit just handed
 * to the spare, which is what a deploy waits for.
 */
const SPARE_RESTOCK_MS = 300;

/**
 * One supervisor kept booted ahead of need, waiting on stdin for its unit (supervisor.js), so
 * that a start hands it the plan instead of waiting ~55 ms for a Node to boot. A driver owns
 * one of its own (`spareSupervisor`), or is lent one that several drivers share: the server's
 * units and its add-on servers' drivers, which live for one call each, take from one spare.
 * Nothing is started before the first take() or start().
 */
export class SupervisorSpares {
  readonly #nodePath: string;
  readonly #cwd: string;
  /** A supervisor started ahead of need, waiting for its plan on stdin. */
  #spare: ChildProcess | undefined;
  /** The spare's successor, due SPARE_RESTOCK_MS after a spare was taken. */
  #restock: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param cwd where the spares run (a supervisor's plan names its unit's own directory). */
  constructor(options: { readonly nodePath: string; readonly cwd: string }) {
    this.#nodePath = options.nodePath;
    this.#cwd = options.cwd;
  }

  /** Starts the first spare, unless one waits already. */
  start(): void {
    if (!this.#closed && this.#spare === undefined) this.#spare = this.#startSpare();
  }

  /**
   * A supervisor that boots now and waits on stdin for a unit. Its own environment says only
   * that it is a spare; when its stdin ends without a plan (close, or the controller died) it
   * exits.
   */
  #startSpare(): ChildProcess {
    const spare = spawn(this.#nodePath, [SUPERVISOR_FILE], {
      cwd: this.#cwd,
      env: { BERTH_SUPERVISOR_SPARE: '1' },
      detached: true,
      // stdout: the supervisor says there when the unit has started (onStartReport).
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    spare.on('error', () => undefined);
    spare.stdin?.on('error', () => undefined);
    spare.stdout?.on('error', () => undefined);
    // Neither the child nor its pipes keep the controller's event loop alive.
    spare.unref();
    (spare.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    (spare.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    return spare;
  }

  /**
   * The spare supervisor if it still waits, else none; either way a new spare follows after
   * SPARE_RESTOCK_MS, once the unit that took this one is well into its boot.
   */
  take(): (ChildProcess & { readonly pid: number }) | undefined {
    const spare = this.#spare;
    this.#spare = undefined;
    if (!this.#closed && this.#restock === undefined) {
      this.#restock = setTimeout(() => {
        this.#restock = undefined;
        if (!this.#closed && this.#spare === undefined) this.#spare = this.#startSpare();
      }, SPARE_RESTOCK_MS);
      this.#restock.unref();
    }
    const waiting =
      spare?.pid !== undefined &&
      spare.exitCode === null &&
      spare.signalCode === null &&
      spare.stdin?.writable === true;
    if (!waiting) {
      spare?.stdin?.end();
      spare?.stdout?.destroy();
      return undefined;
    }
    return spare as ChildProcess & { readonly pid: number };
  }

  /** Lets the waiting spare exit (its stdin ends without a plan) and starts no other. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#restock);
    this.#restock = undefined;
    this.#spare?.stdin?.end();
    this.#spare?.stdout?.destroy();
    this.#spare = undefined;
  }
}
