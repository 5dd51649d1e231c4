import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processStat } from '../router/index.js';

/** `<data-dir>/controller.pid`: which process runs the controller of a data dir. */
const CONTROLLER_PID_FILE = 'controller.pid';

interface ControllerPid {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: tells this process from a later one given the same pid. */
  readonly startTime: string;
}

/** Records this process as the data dir's controller; returns a function that forgets it. */
export async function writeControllerPid(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, CONTROLLER_PID_FILE);
  const startTime = processStat(process.pid)?.startTime ?? '';
  await writeFile(file, `${JSON.stringify({ pid: process.pid, startTime })}\n`, { mode: 0o600 });
  return () => rm(file, { force: true });
}

/**
 * Stops the data dir's controller (SIGTERM, then SIGKILL after `graceMs`), if one runs.
 * Resolves with its pid, or undefined when none ran.
 */
export async function stopController(
  dataDir: string,
  graceMs: number,
): Promise<number | undefined> {
  const file = path.join(dataDir, CONTROLLER_PID_FILE);
  let record: ControllerPid;
  try {
    record = JSON.parse(await readFile(file, 'utf8')) as ControllerPid;
  } catch {
    return undefined;
  }
  const alive = () => {
    const stat = processStat(record.pid);
    return stat !== undefined && stat.startTime === record.startTime && stat.state !== 'Z';
  };
  if (!alive()) {
    await rm(file, { force: true });
    return undefined;
  }
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(50);
  if (alive()) process.kill(record.pid, 'SIGKILL');
  await rm(file, { force: true });
  return record.pid;
}
