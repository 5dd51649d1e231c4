import { readdir, readFile } from 'node:fs/promises';
import type {
  RestartPolicy,
  UnitCommand,
  UnitExit,
  UnitLimits,
  UnitState,
  UnitStatus,
} from '../driver.js';
import type { RuntimeLayout } from './layout.js';
import { processAlive, unitGroupAlive } from './proc-table.js';

/** The unit's spec as the supervisor keeps it: everything but the env, which holds secrets. */
export interface RecordedUnit {
  readonly id: string;
  readonly app: string;
  readonly release: number;
  readonly processType: string;
  readonly index: number;
  readonly command: UnitCommand;
  readonly artifactPath: string;
  readonly restart: RestartPolicy;
  /** The limits its control group enforces; absent where none does. */
  readonly limits?: UnitLimits;
}

/** A process named by its pid and its start time (field 22 of /proc/<pid>/stat). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: string | null;
}

/** `<root>/units/<id>.json`, as supervisor.js writes it (keep the two in step). */
export interface UnitRecord {
  readonly version: 1;
  readonly unit: RecordedUnit;
  readonly host: string;
  readonly port: number;
  readonly supervisor: ProcessIdentity;
  /** The unit's current process, the leader of its process group; null between runs. */
  readonly child: (ProcessIdentity & { readonly pgid: number }) | null;
  readonly state: Exclude<UnitState, 'lost'>;
  readonly startedAt: string;
  readonly restarts: number;
  readonly lastExit?: UnitExit;
}

/** A record and what the kernel says about it now. */
export interface ObservedUnit {
  readonly record: UnitRecord;
  readonly supervisorAlive: boolean;
  /** The unit's process group when it runs without a supervisor (a lost unit's orphans). */
  readonly orphanGroup: number | undefined;
  readonly status: UnitStatus;
}

/** A unit's record, or undefined when it has none (never started, or stopped and removed). */
export async function readRecord(
  layout: RuntimeLayout,
  unitId: string,
): Promise<UnitRecord | undefined> {
  try {
    return JSON.parse(await readFile(layout.recordFile(unitId), 'utf8')) as UnitRecord;
  } catch (error) {
    // Missing, or half-written by a supervisor killed mid-way (writes are tmp + rename, so
    // this only happens to a file that is about to be replaced or removed).
    if (error instanceof SyntaxError) return undefined;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The ids of every unit with a record, whatever its state. */
export async function recordedUnitIds(layout: RuntimeLayout): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(layout.unitsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => name.endsWith('.json') && !name.endsWith('.stop.json'))
    .map((name) => name.slice(0, -'.json'.length));
}

/**
 * Compares a record with the live processes. A dead supervisor leaves a `crashed` or
 * `stopped` unit as it was (it exits on purpose then) and makes any other unit `lost`.
 */
export async function observe(record: UnitRecord): Promise<ObservedUnit> {
  const supervisorAlive = await processAlive(record.supervisor.pid, record.supervisor.startTime);
  let state: UnitState = record.state;
  let orphanGroup: number | undefined;
  if (!supervisorAlive) {
    if (state !== 'crashed' && state !== 'stopped') state = 'lost';
    const child = record.child;
    if (child && (await unitGroupAlive(child.pgid, child.startTime))) {
      orphanGroup = child.pgid;
      state = 'lost';
    }
  }
  const { unit } = record;
  const status: UnitStatus = {
    id: unit.id,
    app: unit.app,
    release: unit.release,
    processType: unit.processType,
    index: unit.index,
    state,
    address: { host: record.host, port: record.port },
    startedAt: record.startedAt,
    restarts: record.restarts,
    ...(record.lastExit ? { lastExit: record.lastExit } : {}),
    ...(unit.limits ? { limits: unit.limits } : {}),
  };
  return { record, supervisorAlive, orphanGroup, status };
}
