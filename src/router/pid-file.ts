import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

/** The name of the builtin router's pid file inside its directory. */
export const PID_FILE = 'router.pid';
/** The name of the builtin router's control socket inside its directory. */
export const CONTROL_SOCKET = 'control.sock';

/**
 * What `router.pid` holds. The start time (field 22 of /proc/PID/stat, in clock ticks since
 * boot) tells a live router from an unrelated process that got the same pid after a reboot or
 * a crash, so `berth down` never signals a stranger.
 */
export interface RouterPidFile {
  readonly pid: number;
  readonly startTime: string;
  /** `host:port` it accepts traffic on. */
  readonly listen: string;
}

/** A process's state letter and start time from /proc, or undefined when it does not exist. */
export function processStat(pid: number): { state: string; startTime: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

/** True while the process of a pid file runs (a zombie has exited: it only awaits its parent). */
export function isRouterAlive(file: RouterPidFile): boolean {
  const stat = processStat(file.pid);
  return stat !== undefined && stat.startTime === file.startTime && stat.state !== 'Z';
}

/** Writes `<dir>/router.pid` for this process. */
export async function writeRouterPidFile(dir: string, listen: string): Promise<void> {
  const stat = processStat(process.pid);
  const content: RouterPidFile = { pid: process.pid, startTime: stat?.startTime ?? '', listen };
  await writeFileAtomic(path.join(dir, PID_FILE), `${JSON.stringify(content)}\n`);
}

/** Reads `<dir>/router.pid`; undefined when it is missing or unreadable. */
export async function readRouterPidFile(dir: string): Promise<RouterPidFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, PID_FILE), 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { pid, startTime, listen } = parsed as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof startTime !== 'string' || typeof listen !== 'string') {
      return undefined;
    }
    return { pid, startTime, listen };
  } catch {
    return undefined;
  }
}

/** Removes `<dir>/router.pid` if it still names `pid` (a successor's file is left alone). */
export async function removeRouterPidFile(dir: string, pid: number): Promise<void> {
  const current = await readRouterPidFile(dir);
  if (current === undefined || current.pid === pid) {
    await rm(path.join(dir, PID_FILE), { force: true });
  }
}
