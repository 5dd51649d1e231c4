import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Which control groups this machine lets Berth make: v1 (a hierarchy per controller, as on
 * this project's CI machines), v2 (one unified tree) or none (not root, or no cgroup file
 * system), with the reason.
 */
export type CgroupSupport =
  | { readonly kind: 'v1'; readonly root: string }
  | { readonly kind: 'v2'; readonly root: string }
  | { readonly kind: 'none'; readonly reason: string };

/** What a unit's group is limited to. */
export interface CgroupLimits {
  readonly memoryBytes?: number;
  /** CPUs, e.g. 0.5: a hard quota of that share of one CPU per period. */
  readonly cpus?: number;
  /** The most processes and threads the group may hold. */
  readonly pids: number;
}

/** The v1 controllers a unit's group is made in. */
const V1_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
const CPU_PERIOD_US = 100_000;
/** How long killAll() keeps killing a group that keeps forking before it gives up. */
const KILL_DEADLINE_MS = 5000;
const KILL_POLL_MS = 10;

async function writable(file: string): Promise<boolean> {
  try {
    await access(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function isZombie(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone
  }
}

/** Finds out which cgroups can be used under `root` (default /sys/fs/cgroup). */
export async function detectCgroups(root = '/sys/fs/cgroup'): Promise<CgroupSupport> {
  if (process.getuid?.() !== 0) {
    return { kind: 'none', reason: 'the controller is not root and cannot make control groups' };
  }
  if (await writable(path.join(root, 'cgroup.subtree_control'))) return { kind: 'v2', root };
  const v1 = await Promise.all(
    V1_CONTROLLERS.map((controller) => writable(path.join(root, controller, 'cgroup.procs'))),
  );
  if (v1.every(Boolean)) return { kind: 'v1', root };
  return {
    kind: 'none',
    reason: `no writable memory, pids and cpu control groups under ${root}`,
  };
}

/**
 * One unit's (or one-off's, or build's) control group: made before its process starts, joined
 * by that process itself before it runs the app (so that nothing it forks is ever outside),
 * killed whole on stop, and removed afterwards. Groups live under `berth-<scope>/` so that two
 * Berths on one machine never touch each other's.
 */
export class Cgroup {
  readonly support: Extract<CgroupSupport, { kind: 'v1' | 'v2' }>;
  /** One directory per v1 controller, or the one v2 directory. */
  readonly dirs: readonly string[];

  constructor(support: Extract<CgroupSupport, { kind: 'v1' | 'v2' }>, scope: string, id: string) {
    this.support = support;
    const relative = path.join(`berth-${scope}`, id);
    this.dirs =
      support.kind === 'v1'
        ? V1_CONTROLLERS.map((controller) => path.join(support.root, controller, relative))
        : [path.join(support.root, relative)];
  }

  /** The files that list the group's processes (and that a process's pid moves it into). */
  get procsFiles(): string[] {
    return this.dirs.map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /**
   * The files a single-threaded process writes `0` to, to join the group itself (the launcher
   * does): on v1 each hierarchy's `tasks`, because the kernel moves the writing thread alone
   * without the lock a move of a whole process takes, whose RCU grace period cost each join
   * from 1 to over 10 ms; on v2, where `tasks` is gone, `cgroup.procs`.
   */
  get joinFiles(): string[] {
    const file = this.support.kind === 'v1' ? 'tasks' : 'cgroup.procs';
    return this.dirs.map((dir) => path.join(dir, file));
  }

  /** The file whose `oom_kill N` line counts the group's kills by the memory limit. */
  get oomFile(): string {
    const memoryDir = this.dirs[0] ?? '';
    return path.join(
      memoryDir,
      this.support.kind === 'v1' ? 'memory.oom_control' : 'memory.events',
    );
  }

  /** Makes the group (again, if it is left from before) and writes its limits. */
  async create(limits: CgroupLimits): Promise<void> {
    if (this.support.kind === 'v2') await this.#enableV2Controllers();
    await Promise.all(this.dirs.map((dir) => mkdir(dir, { recursive: true })));
    const memory = limits.memoryBytes;
    const cpus = limits.cpus;
    if (this.support.kind === 'v1') {
      const [memoryDir, pidsDir, cpuDir] = this.dirs as [string, string, string];
      const unlimited = '-1';
      // memsw (memory + swap) may only be set at or above the memory limit, so the order of
      // the two writes depends on whether the limit grows; setting both twice covers both.
      const memoryValue = memory === undefined ? unlimited : String(memory);
      const writeMemory = async () => {
        for (let pass = 0; pass < 2; pass++) {
          await writeFile(path.join(memoryDir, 'memory.limit_in_bytes'), memoryValue).catch(
            (error: unknown) => {
              if (pass === 1) throw error;
            },
          );
          await writeFile(path.join(memoryDir, 'memory.memsw.limit_in_bytes'), memoryValue).catch(
            () => undefined, // no swap accounting on this kernel
          );
        }
      };
      const writeCpu = async () => {
        await writeFile(path.join(cpuDir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        await writeFile(
          path.join(cpuDir, 'cpu.cfs_quota_us'),
          cpus === undefined ? '-1' : String(Math.max(1000, Math.round(cpus * CPU_PERIOD_US))),
        );
        await writeFile(
          path.join(cpuDir, 'cpu.shares'),
          String(Math.max(2, Math.round(1024 * (cpus ?? 1)))),
        );
      };
      // One hierarchy per controller: their writes do not depend on each other.
      await Promise.all([
        writeMemory(),
        writeFile(path.join(pidsDir, 'pids.max'), String(limits.pids)),
        writeCpu(),
      ]);
      return;
    }
    const [dir] = this.dirs as [string];
    await writeFile(path.join(dir, 'memory.max'), memory === undefined ? 'max' : String(memory));
    await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    await writeFile(path.join(dir, 'pids.max'), String(limits.pids));
    await writeFile(
      path.join(dir, 'cpu.max'),
      cpus === undefined
        ? `max ${CPU_PERIOD_US}`
        : `${Math.max(1000, Math.round(cpus * CPU_PERIOD_US))} ${CPU_PERIOD_US}`,
    );
  }

  /** v2 only hands a controller to children whose parent enables it in subtree_control. */
  async #enableV2Controllers(): Promise<void> {
    const [dir] = this.dirs as [string];
    const parent = path.dirname(dir);
    await mkdir(parent, { recursive: true });
    for (const at of [this.support.root, parent]) {
      await writeFile(path.join(at, 'cgroup.subtree_control'), '+memory +pids +cpu').catch(
        () => undefined, // already enabled, or the machine lacks one: the limit writes say which
      );
    }
  }

  /** The processes in the group now. */
  async pids(): Promise<number[]> {
    const found = new Set<number>();
    for (const file of this.procsFiles) {
      let text = '';
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // not made, or removed
      }
      for (const line of text.split('\n')) if (line !== '') found.add(Number(line));
    }
    // A zombie is over, even if an init that never reaps it leaves it listed.
    const live: number[] = [];
    for (const pid of found) if (!(await isZombie(pid))) live.push(pid);
    return live;
  }

  /** How many of the group's processes the memory limit has killed so far. */
  async oomKills(): Promise<number> {
    try {
      const text = await readFile(this.oomFile, 'utf8');
      return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  /** Sends a signal to every process of the group. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
  }

  /**
   * SIGKILLs every process of the group until none is left, however they forked, set up new
   * sessions or left their process group; true when the group is empty.
   */
  async killAll(): Promise<boolean> {
    const deadline = Date.now() + KILL_DEADLINE_MS;
    if (this.support.kind === 'v2') {
      const [dir] = this.dirs as [string];
      await writeFile(path.join(dir, 'cgroup.kill'), '1').catch(() => undefined); // Linux 5.14+
    }
    for (;;) {
      const pids = await this.pids();
      if (pids.length === 0) return true;
      if (Date.now() >= deadline) return false;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await sleep(KILL_POLL_MS);
    }
  }

  /** Kills what is left and removes the group's directories. */
  async remove(): Promise<void> {
    await this.killAll();
    for (const dir of this.dirs) {
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          // EBUSY: a killed process is still being torn down by the kernel.
          if (code !== 'EBUSY' || attempt >= 50) throw error;
          await sleep(KILL_POLL_MS);
        }
      }
    }
  }
}
