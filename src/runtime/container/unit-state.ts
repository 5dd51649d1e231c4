import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { UnitExit } from '../driver.js';
import type { LogCursor } from './log-capture.js';

/**
 * What the container driver remembers of a unit beyond its container's labels: its restarts,
 * how it last ended, whether it gave up on it, and how far its log was copied. Written by the
 * driver on every change, so a controller started again (or after a crash) goes on from it.
 */
export interface UnitState {
  readonly restarts: number;
  /** Restarts since the unit last ran longer than its policy's resetAfterMs. */
  readonly consecutive: number;
  readonly crashed: boolean;
  readonly lastExit?: UnitExit;
  readonly cursor?: LogCursor;
}

const EMPTY: UnitState = Object.freeze({ restarts: 0, consecutive: 0, crashed: false });

/**
 * Where the container runtime keeps its files under its root:
 *
 *   units/<unitId>.json      the unit's UnitState
 *   logs/<app>/<unitId>.log  JSON lines (LogLine), as the process runtime writes them
 */
export class ContainerLayout {
  readonly root: string;
  readonly unitsDir: string;
  readonly logsDir: string;

  constructor(root: string) {
    this.root = root;
    this.unitsDir = path.join(root, 'units');
    this.logsDir = path.join(root, 'logs');
  }

  stateFile(unitId: string): string {
    return path.join(this.unitsDir, `${unitId}.json`);
  }

  appLogDir(app: string): string {
    return path.join(this.logsDir, app);
  }

  logFile(app: string, unitId: string): string {
    return path.join(this.logsDir, app, `${unitId}.log`);
  }

  /** The unit's state, or a fresh one when it has none (or an unreadable one). */
  readState(unitId: string): UnitState {
    try {
      return { ...EMPTY, ...(JSON.parse(readFileSync(this.stateFile(unitId), 'utf8')) as object) };
    } catch {
      return EMPTY;
    }
  }

  /** Writes the state whole (a rename), so a crash mid-write leaves the old one. */
  writeState(unitId: string, state: UnitState): void {
    const file = this.stateFile(unitId);
    mkdirSync(this.unitsDir, { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  removeState(unitId: string): void {
    rmSync(this.stateFile(unitId), { force: true });
  }
}
