import { readdir, readFile } from 'node:fs/promises';

// What the kernel says about processes, read from /proc. supervisor.js holds its own copy of
// these few lines because it may import nothing but node: modules.

/** The fields after the command name in /proc/<pid>/stat: [state, ppid, pgrp, …]. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Field 22 of /proc/<pid>/stat, the start time in clock ticks since boot: with the pid it
 * names one process even after the pid is reused. Undefined when there is no such process.
 */
export async function readStartTime(pid: number): Promise<string | undefined> {
  return (await statFields(pid))?.[19];
}

function signalExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process still runs and is the one that started at `startTime` (null: no /proc
 * when it was recorded, so only the pid is checked). Zombies count as ended: an orphan's
 * parent is an init that may never reap it.
 */
export async function processAlive(pid: number, startTime: string | null): Promise<boolean> {
  const fields = await statFields(pid);
  if (fields === undefined) return startTime === null && signalExists(pid);
  if (fields[0] === 'Z') return false;
  return startTime === null || fields[19] === startTime;
}

/** Whether any process of the group runs (zombies aside). */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalExists(-pgid)) return false;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = await statFields(Number(entry));
    if (fields !== undefined && Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

/**
 * Whether the process group of a unit whose leader started at `leaderStartTime` may still
 * run. Linux does not hand out a pid that is still some group's id, so a group whose leader
 * is gone is still the unit's group; a leader pid held by another process means it ended.
 */
export async function unitGroupAlive(
  pgid: number,
  leaderStartTime: string | null,
): Promise<boolean> {
  const leader = await statFields(pgid);
  if (leader !== undefined && leader[0] !== 'Z' && leaderStartTime !== null) {
    if (leader[19] !== leaderStartTime) return false;
  }
  return groupAlive(pgid);
}

/** Sends a signal to a process or (negative id) a group; an ended one is not an error. */
export function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}
