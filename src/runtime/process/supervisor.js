// @ts-check
// The supervisor of one unit of the process runtime, like Podman's conmon: started detached by
// the driver, it holds the unit's pipes, writes its log and record, restarts it by its policy
// and outlives the controller. Plain JavaScript on node: modules only, so it starts in tens of
// milliseconds without a compiler. Its input never passes through a file, because it holds the
// unit's secrets. It comes either through two environment variables:
//   BERTH_SUPERVISOR_SPEC  the non-secret plan (SupervisorPlan below) as JSON
//   BERTH_SUPERVISOR_ENV   the unit's whole environment as JSON
// or, for a spare supervisor the driver starts ahead of need (BERTH_SUPERVISOR_SPARE=1),
// through its stdin: one JSON document {plan, env}, then the end of the stream. A spare whose
// stdin ends without one (its controller stopped or died) exits.
// The unit's variables travel inside one JSON value, not as variables of the supervisor, so
// that an app's NODE_OPTIONS cannot change the supervisor's own Node.
// Its stdout is a pipe to the driver that started it, which it writes one line to once the
// unit has started (or could not be), so that the driver need not poll the record for that.
// The supervisor stops on SIGTERM: SIGTERM to the unit's process group, the grace period from
// the stop file (the driver writes it first) and then SIGKILL; it writes `stopped` and exits.
// Keep the record format in step with unit-record.ts.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import process from 'node:process';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { decideRestart } from '../restart-decision.js';

/**
 * @typedef {{ code: number | null; signal: string | null; at: string; reason?: string }} Exit
 * @typedef {{
 *   maxRestarts: number; backoffMs: number; maxBackoffMs: number; resetAfterMs: number
 * }} Policy
 * @typedef {{
 *   unit: { id: string; app: string; release: number; processType: string; index: number;
 *           restart: Policy } & Record<string, unknown>;
 *   argv: string[]; cwd: string; host: string; port: number;
 *   recordFile: string; stopFile: string; logFile: string; logFileLimitBytes: number;
 *   defaultGraceMs: number;
 *   cgroup: { procsFiles: string[]; oomFile: string } | null;
 * }} SupervisorPlan
 * @typedef {{ pid: number; pgid: number; startTime: string | null }} ChildInfo
 */

/** Longer lines are cut: one runaway line must not fill the log. */
const MAX_LINE_CHARS = 16 * 1024;
const STOP_POLL_MS = 25;
const PIPE_DRAIN_MS = 200;

/**
 * The whole of stdin, for a spare supervisor; empty when it ends without a byte.
 * @returns {Promise<string>}
 */
function readStdin() {
  return new Promise((resolve) => {
    /** @type {Buffer[]} */
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', () => resolve(''));
  });
}

/**
 * The plan and the unit's environment, from the environment or (a spare) from stdin.
 * @returns {Promise<{ plan: SupervisorPlan; env: Record<string, string> } | undefined>}
 */
async function readInput() {
  const planText = process.env['BERTH_SUPERVISOR_SPEC'];
  const envText = process.env['BERTH_SUPERVISOR_ENV'];
  const spare = process.env['BERTH_SUPERVISOR_SPARE'] === '1';
  delete process.env['BERTH_SUPERVISOR_SPEC'];
  delete process.env['BERTH_SUPERVISOR_ENV'];
  delete process.env['BERTH_SUPERVISOR_SPARE'];
  if (planText !== undefined && envText !== undefined) {
    return { plan: JSON.parse(planText), env: JSON.parse(envText) };
  }
  if (!spare) return undefined;
  const text = await readStdin();
  // The pipe is done with: the unit's stdin is its own, and nothing holds the controller's.
  process.stdin.destroy();
  if (text === '') return undefined;
  return JSON.parse(text);
}

const input = await readInput();
if (input === undefined) {
  process.stderr.write('supervisor.js is started by the process runtime driver\n');
  process.exit(64);
}
/** @type {SupervisorPlan} */
const plan = input.plan;
/** @type {Record<string, string>} */
const unitEnv = input.env;
const policy = plan.unit.restart;

/**
 * Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): with the pid it names
 * one process, even after the pid is reused. Null where there is no /proc.
 * @param {number} pid
 * @returns {string | null}
 */
function readStartTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * The state letter of /proc/<pid>/stat ('R', 'S', 'Z', …), or null when there is no such process.
 * @param {number} pid
 * @returns {string | null}
 */
function processState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether any process of the group still runs. Zombies do not count: orphans are re-parented
 * to an init that may never reap them, and kill(-pgid, 0) would see them forever.
 * @param {number} pgid
 * @returns {boolean}
 */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}

/**
 * @param {number} pgid
 * @param {NodeJS.Signals} signal
 */
function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * The pids in the unit's control group (none without one): everything the unit started,
 * whatever session or process group it moved to. Kept in step with cgroups.ts.
 * @returns {number[]}
 */
function cgroupPids() {
  if (!plan.cgroup) return [];
  /** @type {Set<number>} */
  const pids = new Set();
  for (const file of plan.cgroup.procsFiles) {
    try {
      for (const line of fs.readFileSync(file, 'utf8').split('\n'))
        if (line) pids.add(Number(line));
    } catch {
      // removed, or never made
    }
  }
  // A zombie is over, even if an init that never reaps leaves it listed.
  return [...pids].filter((pid) => processState(pid) !== 'Z');
}

/** @param {NodeJS.Signals} signal */
function signalCgroup(signal) {
  for (const pid of cgroupPids()) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * How many processes of the group the memory limit has killed (`oom_kill N`).
 * @returns {number}
 */
function oomKills() {
  if (!plan.cgroup) return 0;
  try {
    const text = fs.readFileSync(plan.cgroup.oomFile, 'utf8');
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The unit's log: JSON lines, rotated to `.1` at the limit so that it stays bounded. */
class LogFile {
  /** @param {string} file @param {number} limit */
  constructor(file, limit) {
    this.file = file;
    this.limit = limit;
    this.fd = fs.openSync(file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** @param {string} line */
  append(line) {
    const bytes = Buffer.from(`${line}\n`);
    if (this.size > 0 && this.size + bytes.length > this.limit) {
      fs.closeSync(this.fd);
      fs.renameSync(this.file, `${this.file}.1`);
      this.fd = fs.openSync(this.file, 'a', 0o600);
      this.size = 0;
    }
    fs.writeSync(this.fd, bytes);
    this.size += bytes.length;
  }
}

const log = new LogFile(plan.logFile, plan.logFileLimitBytes);

/**
 * @param {'stdout' | 'stderr' | 'system'} stream
 * @param {string} text
 */
function writeLine(stream, text) {
  const { app, release, processType, index, id } = plan.unit;
  const line = { at: new Date().toISOString(), app, release, processType, index, unitId: id };
  try {
    log.append(JSON.stringify({ ...line, stream, text }));
  } catch {
    // A full disk must not take the unit down with it.
  }
}

/** @param {string} text */
const system = (text) => writeLine('system', text);

/**
 * Splits a pipe into lines, cutting any longer than MAX_LINE_CHARS.
 * @param {import('node:stream').Readable} input
 * @param {'stdout' | 'stderr'} stream
 */
function readLines(input, stream) {
  let pending = '';
  let cutting = false;
  /** @param {string} text */
  const add = (text) => {
    if (cutting) return;
    pending += text;
    if (pending.length > MAX_LINE_CHARS) {
      writeLine(stream, `${pending.slice(0, MAX_LINE_CHARS)}…`);
      pending = '';
      cutting = true;
    }
  };
  const end = () => {
    if (!cutting) writeLine(stream, pending.endsWith('\r') ? pending.slice(0, -1) : pending);
    pending = '';
    cutting = false;
  };
  input.setEncoding('utf8');
  input.on('data', (/** @type {string} */ chunk) => {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      if (newline === -1) break;
      add(chunk.slice(start, newline));
      end();
      start = newline + 1;
    }
    add(chunk.slice(start));
  });
  input.on('end', () => {
    if (pending !== '') end();
  });
  input.on('error', () => undefined);
}

const supervisorStartTime = readStartTime(process.pid);
const startedAt = new Date().toISOString();
/** @type {'starting' | 'running' | 'restarting' | 'crashed' | 'stopping' | 'stopped'} */
let state = 'starting';
let restarts = 0;
let consecutive = 0;
/** @type {import('node:child_process').ChildProcess | null} */
let child = null;
/** @type {ChildInfo | null} */
let childInfo = null;
/** @type {Exit | undefined} */
let lastExit;
let runStartedAt = Date.now();
/** @type {NodeJS.Timeout | undefined} */
let restartTimer;
let stopping = false;
/** oom_kill of the unit's group when the current process started. */
let oomKillsAtLaunch = 0;
/** Whether the last exit was a kill by the memory limit. */
let killedByMemoryLimit = false;

let reported = false;

/**
 * Tells whoever started this supervisor, once, that the record no longer says `starting`, so
 * that the driver reads it now rather than at its next poll. stdout is a pipe to that driver
 * (or nothing): a driver gone since is no error, and nothing else is ever written there.
 */
function reportStarted() {
  if (reported || state === 'starting') return;
  reported = true;
  try {
    fs.writeSync(1, 'started\n');
  } catch {
    // The driver stopped listening (its controller stopped or died).
  }
}

/** Writes the record whole (tmp + rename), so readers never see half of it. */
function save() {
  const record = {
    version: 1,
    unit: plan.unit,
    host: plan.host,
    port: plan.port,
    supervisor: { pid: process.pid, startTime: supervisorStartTime },
    child: childInfo,
    state,
    startedAt,
    restarts,
    ...(lastExit ? { lastExit } : {}),
  };
  const tmp = `${plan.recordFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
  fs.renameSync(tmp, plan.recordFile);
  reportStarted();
}

function launch() {
  state = 'starting';
  oomKillsAtLaunch = oomKills();
  const [file = '', ...args] = plan.argv;
  const proc = spawn(file, args, {
    cwd: plan.cwd,
    env: unitEnv,
    // Its own process group, so that stop() reaches whatever the unit spawns.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let ended = false;
  /** @param {number | null} code @param {string | null} signal @param {string} [reason] */
  const finish = (code, signal, reason) => {
    if (ended) return;
    ended = true;
    onExit(proc, code, signal, reason);
  };
  proc.on('spawn', () => {
    const pid = /** @type {number} */ (proc.pid);
    childInfo = { pid, pgid: pid, startTime: readStartTime(pid) };
    runStartedAt = Date.now();
    if (stopping) return;
    state = 'running';
    system(`started (pid ${pid})`);
    save();
  });
  proc.on('error', (error) => {
    if (proc.pid === undefined) finish(null, null, `could not start: ${error.message}`);
  });
  proc.on('exit', (code, signal) => {
    // Let the pipes drain first, so that the unit's last lines come before `exited`; but not
    // for long, since a process the unit left behind may hold them open.
    const drained = setTimeout(() => finish(code, signal), PIPE_DRAIN_MS);
    proc.once('close', () => {
      clearTimeout(drained);
      finish(code, signal);
    });
  });
  if (proc.stdout) readLines(proc.stdout, 'stdout');
  if (proc.stderr) readLines(proc.stderr, 'stderr');
}

/**
 * @param {import('node:child_process').ChildProcess} proc
 * @param {number | null} code
 * @param {string | null} signal
 * @param {string} [reason]
 */
function onExit(proc, code, signal, reason) {
  if (proc !== child) return;
  child = null;
  killedByMemoryLimit = !stopping && oomKills() > oomKillsAtLaunch;
  const why = reason ?? (killedByMemoryLimit ? 'oom' : undefined);
  lastExit = { code, signal, at: new Date().toISOString(), ...(why ? { reason: why } : {}) };
  system(
    reason ??
      (killedByMemoryLimit
        ? 'killed: out of memory'
        : `exited (${signal ? `signal ${signal}` : `code ${code}`})`),
  );
  if (stopping) return; // the stop loop finishes the job
  // What the unit left behind would hold its port and files: it goes with it.
  if (childInfo) signalGroup(childInfo.pgid, 'SIGKILL');
  signalCgroup('SIGKILL');
  childInfo = null;
  const decision = decideRestart(policy, consecutive, Date.now() - runStartedAt, {
    oom: killedByMemoryLimit,
  });
  system(decision.line);
  if (decision.kind === 'give-up') {
    state = 'crashed';
    save();
    // Nothing left to supervise; the record keeps saying `crashed` until stop().
    process.exit(0);
  }
  consecutive = decision.inRow + 1;
  restarts++;
  state = 'restarting';
  save();
  restartTimer = setTimeout(launch, decision.delayMs);
}

/** @returns {number} */
function graceMs() {
  try {
    const request = JSON.parse(fs.readFileSync(plan.stopFile, 'utf8'));
    if (typeof request.graceMs === 'number' && request.graceMs >= 0) return request.graceMs;
  } catch {
    // No stop file: a signal from elsewhere (a shutdown); use the default.
  }
  return plan.defaultGraceMs;
}

function stop() {
  if (stopping) return;
  stopping = true;
  clearTimeout(restartTimer);
  const deadline = Date.now() + graceMs();
  state = 'stopping';
  system('stopping');
  save();
  let termSent = false;
  const poll = () => {
    // Read each time: a unit still being spawned gets its group id in a moment.
    const pgid = childInfo?.pgid;
    if (pgid !== undefined && !termSent) {
      signalGroup(pgid, 'SIGTERM');
      signalCgroup('SIGTERM');
      termSent = true;
    }
    if (Date.now() >= deadline) {
      if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
      signalCgroup('SIGKILL');
    }
    // Processes that left the unit's group (setsid) are still in its control group.
    const ended = child === null && (pgid === undefined || !groupAlive(pgid));
    if (ended && cgroupPids().length === 0) {
      clearInterval(timer);
      state = 'stopped';
      system('stopped');
      save();
      process.exit(0);
    }
  };
  const timer = setInterval(poll, STOP_POLL_MS);
  poll();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Detached without a terminal, a hang-up means nothing to us.
process.on('SIGHUP', () => undefined);
process.on('uncaughtException', (error) => {
  system(`supervisor failed: ${error.message}`);
  if (childInfo) signalGroup(childInfo.pgid, 'SIGKILL');
  signalCgroup('SIGKILL');
  process.exit(70);
});

save();
launch();
