import { createHash } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { access, chmod, lchown, lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, InputError } from '../../errors/index.js';
import type { AppAccount, UnitLimits } from '../driver.js';
import { Cgroup, detectCgroups, type CgroupSupport } from './cgroups.js';

/**
 * How the process runtime keeps apps apart: `users` (the controller is root: every app runs as
 * a uid of its own, in control groups that enforce its limits where the machine has them) or
 * `none` (it is not: every app runs as the controller's user, so the server is single-tenant).
 */
export type ProcessIsolation =
  | { readonly kind: 'users'; readonly setpriv: string; readonly cgroups: CgroupSupport }
  | { readonly kind: 'none'; readonly reason: string };

/** Per-process limits every unit, one-off and build gets, whatever the formation says. */
export interface ProcessCaps {
  /** Processes and threads per unit (cgroup pids.max). */
  readonly pids: number;
  /** Open files per process (RLIMIT_NOFILE). */
  readonly openFiles: number;
  /** Processes of the app's uid together (RLIMIT_NPROC): the bound where there are no cgroups. */
  readonly appProcesses: number;
}

export const DEFAULT_PROCESS_CAPS: ProcessCaps = Object.freeze({
  pids: 512,
  openFiles: 4096,
  appProcesses: 2048,
});

const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

/** Whether `file` exists and may be executed. */
export async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What this machine lets the process runtime do to keep apps apart. */
export async function detectIsolation(cgroupRoot?: string): Promise<ProcessIsolation> {
  if (process.getuid?.() !== 0) {
    return {
      kind: 'none',
      reason: `the controller runs as uid ${process.getuid?.() ?? '?'}, not root, and cannot run apps as users of their own`,
    };
  }
  let setpriv: string | undefined;
  for (const file of SETPRIV_PATHS) if (!setpriv && (await executable(file))) setpriv = file;
  if (!setpriv) {
    return { kind: 'none', reason: 'setpriv (util-linux) is missing, so apps cannot change user' };
  }
  return { kind: 'users', setpriv, cgroups: await detectCgroups(cgroupRoot) };
}

/**
 * The launcher every app process starts through (argument vector, never a string built from
 * input): /bin/sh joins the control groups named as its arguments (writing `0`, meaning
 * itself, to each group's join file: Cgroup.joinFiles), sets the umask and the rlimits, then
 * execs setpriv, which drops to the app's uid and gid with no supplementary groups, no
 * capabilities and PR_SET_NO_NEW_PRIVS, and execs the command. Each step replaces the last,
 * so the command is the process that was spawned, and whatever it forks is inside the groups
 * from the first instruction on. Exit 125: a group could not be joined.
 */
const LAUNCH_SCRIPT =
  // ulimit -u is bash's processes limit and -p dash's (bash's -p is the pipe size).
  'umask 077; ulimit -n "$1"; { ulimit -u "$2" || ulimit -p "$2"; } 2>/dev/null; n=$3; shift 3; ' +
  'while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"';

/** A process's argument vector with the launcher in front. */
function launchArgv(
  setpriv: string,
  account: AppAccount,
  caps: ProcessCaps,
  joinFiles: readonly string[],
  argv: readonly string[],
): [string, ...string[]] {
  return [
    '/bin/sh',
    '-c',
    LAUNCH_SCRIPT,
    'berth-launch',
    String(caps.openFiles),
    String(caps.appProcesses),
    String(joinFiles.length),
    ...joinFiles,
    setpriv,
    `--reuid=${account.uid}`,
    `--regid=${account.uid}`,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
    ...argv,
  ];
}

/** How one process (a unit, a one-off, a build command) of an app is started and ended. */
export interface ProcessJail {
  /** The argument vector to spawn instead of `argv`. */
  wrap(argv: readonly string[]): [string, ...string[]];
  /** HOME and TMPDIR of the app's own, when it has them. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * A PATH without the folders the app's user cannot reach (root's home, where pyenv or nvm
   * put their shims), so that `python3` finds the system's and not a permission error.
   */
  reachablePath(value: string): string;
  /** The control group, when the machine has them. */
  readonly cgroup: Cgroup | undefined;
  /** Kills every process the jail's process left (the control group), then removes the group. */
  release(): Promise<void>;
}

/**
 * The process runtime's isolation of apps from each other and from the platform, in one
 * place: the app's private directories (home, tmp), the launcher that runs each of its
 * processes as its own uid inside control groups, and the removal of all of it.
 */
export class AppSandboxes {
  readonly isolation: ProcessIsolation;
  readonly #appsRoot: string;
  readonly #scope: string;
  readonly #caps: ProcessCaps;

  /**
   * @param appsRoot `<data-dir>/apps`: each app's private directories go in `<appId>/`.
   * @param scopeKey names this Berth's control groups (the runtime root), apart from others'.
   */
  constructor(options: {
    readonly isolation: ProcessIsolation;
    readonly appsRoot: string;
    readonly scopeKey: string;
    readonly caps?: ProcessCaps;
  }) {
    this.isolation = options.isolation;
    this.#appsRoot = options.appsRoot;
    this.#scope = createHash('sha256').update(options.scopeKey).digest('hex').slice(0, 12);
    this.#caps = options.caps ?? DEFAULT_PROCESS_CAPS;
  }

  /** Whether the limits of a formation are enforced here (memory and CPU need cgroups). */
  get enforcesLimits(): boolean {
    return this.isolation.kind === 'users' && this.isolation.cgroups.kind !== 'none';
  }

  /** The app's own directory (root-owned, 0711: passable, not listable). */
  appDir(appId: string): string {
    return path.join(this.#appsRoot, appId);
  }

  /** The app's HOME and TMPDIR, owned by its uid and private to it. */
  appHome(appId: string): { home: string; tmp: string } {
    return {
      home: path.join(this.appDir(appId), 'home'),
      tmp: path.join(this.appDir(appId), 'tmp'),
    };
  }

  /**
   * Makes the app's directories: `<appsRoot>` and `<appsRoot>/<appId>` passable by its uid
   * (0711, so it can reach its own slugs and nothing else), home and tmp its own (0700).
   */
  async prepareApp(account: AppAccount): Promise<void> {
    if (this.isolation.kind !== 'users') return;
    const { home, tmp } = this.appHome(account.appId);
    // Parents before children; the two private folders, and slugs/, side by side.
    for (const dir of [this.#appsRoot, this.appDir(account.appId)]) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o711);
    }
    await Promise.all([
      (async () => {
        const slugs = path.join(this.appDir(account.appId), 'slugs');
        await mkdir(slugs, { recursive: true });
        await chmod(slugs, 0o711);
      })(),
      ...[home, tmp].map(async (dir) => {
        await mkdir(dir, { recursive: true });
        await lchown(dir, account.uid, account.uid);
        await chmod(dir, 0o700);
      }),
    ]);
  }

  /**
   * Hands a directory tree (an app's slug) to the app's uid, so its build and units may write
   * there and no other app may read it (the top directory becomes 0700). Symlinks are changed
   * themselves, never followed.
   */
  async giveTree(dir: string, account: AppAccount): Promise<void> {
    if (this.isolation.kind !== 'users') return;
    const walk = async (at: string): Promise<void> => {
      await lchown(at, account.uid, account.uid);
      const info = await lstat(at);
      if (!info.isDirectory()) return;
      for (const entry of await readdir(at)) await walk(path.join(at, entry));
    };
    await walk(dir);
    await chmod(dir, 0o700);
  }

  /** giveTree, unless the tree's top is the app's already (a slug built since isolation). */
  async claimTree(dir: string, account: AppAccount): Promise<void> {
    if (this.isolation.kind !== 'users') return;
    const info = await lstat(dir);
    if (info.uid === account.uid && (info.mode & 0o077) === 0) return;
    await this.giveTree(dir, account);
  }

  /**
   * A jail for one process of the app, `id` naming its control group. On a `none` machine
   * the process runs as it would without Berth (the controller's user), only wrapped in
   * nothing. Without an account on a `users` machine nothing may run: a caller's bug.
   */
  async jail(
    id: string,
    account: AppAccount | undefined,
    limits: UnitLimits | undefined,
  ): Promise<ProcessJail> {
    const isolation = this.isolation;
    if (isolation.kind !== 'users') {
      return {
        wrap: (argv) => toArgv(argv),
        env: {},
        reachablePath: (value) => value,
        cgroup: undefined,
        release: () => Promise.resolve(),
      };
    }
    if (account === undefined) {
      throw new InputError(
        'the process runtime runs every app as a user of its own, and this spec names none',
        ErrorCodes.UNIT_SPEC_INVALID,
      );
    }
    const cgroup =
      isolation.cgroups.kind === 'none'
        ? undefined
        : new Cgroup(isolation.cgroups, this.#scope, id);
    // Independent: the app's folders and the process's control group are made side by side.
    await Promise.all([
      this.prepareApp(account),
      cgroup?.create({
        ...(limits?.memoryBytes === undefined ? {} : { memoryBytes: limits.memoryBytes }),
        ...(limits?.cpus === undefined ? {} : { cpus: limits.cpus }),
        pids: this.#caps.pids,
      }),
    ]);
    const { home, tmp } = this.appHome(account.appId);
    return {
      wrap: (argv) =>
        launchArgv(isolation.setpriv, account, this.#caps, cgroup?.joinFiles ?? [], argv),
      // npm's and pip's caches follow HOME, unless the controller's environment named one.
      env: {
        HOME: home,
        TMPDIR: tmp,
        npm_config_cache: path.join(home, '.npm'),
        PIP_CACHE_DIR: path.join(home, '.cache', 'pip'),
      },
      reachablePath: (value) => reachablePath(value, account.uid),
      cgroup,
      release: async () => {
        await cgroup?.remove();
      },
    };
  }

  /**
   * A jail for a build of the app in `dir` (its slug, which becomes the app's): the build
   * runs as the app, so a hostile install script is as contained as the app itself.
   */
  async buildJail(buildId: string, account: AppAccount, dir: string): Promise<ProcessJail> {
    // Side by side; a jail made for a tree that could not be handed over is released again.
    const [jail, given] = await Promise.allSettled([
      this.jail(buildId, account, undefined),
      this.giveTree(dir, account),
    ]);
    if (given.status === 'rejected') {
      if (jail.status === 'fulfilled') await jail.value.release().catch(() => undefined);
      throw given.reason;
    }
    if (jail.status === 'rejected') throw jail.reason;
    return jail.value;
  }

  /** The control group a unit's jail made, to kill or remove what a lost supervisor left. */
  cgroupOf(id: string): Cgroup | undefined {
    const isolation = this.isolation;
    if (isolation.kind !== 'users' || isolation.cgroups.kind === 'none') return undefined;
    return new Cgroup(isolation.cgroups, this.#scope, id);
  }

  /**
   * Ends every process the app's uid runs, wherever it went (another session, out of its
   * groups), and removes its private directories. The app's uid is never another's, so
   * nothing else is touched.
   */
  async removeApp(account: AppAccount): Promise<void> {
    if (this.isolation.kind === 'users') await killUid(account.uid);
    await rm(this.appDir(account.appId), { recursive: true, force: true });
  }
}

/** Whether `uid` (whose only group is the gid of the same number) may pass down to `dir`. */
function passableBy(dir: string, uid: number): boolean {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    try {
      const { mode, uid: owner, gid } = statSync(at);
      const bit = owner === uid ? 0o100 : gid === uid ? 0o010 : 0o001;
      if ((mode & bit) === 0) return false;
    } catch {
      return false;
    }
    if (at === path.dirname(at)) return true;
  }
}

/** A PATH of only the folders the app's user can reach (its own slug's among them). */
export function reachablePath(value: string, uid: number): string {
  return value
    .split(':')
    .filter((dir) => dir !== '' && passableBy(dir, uid))
    .join(':');
}

function toArgv(argv: readonly string[]): [string, ...string[]] {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('an empty command');
  return [file, ...args];
}

/** The pids of processes whose real uid is `uid` (zombies aside). */
export async function processesOfUid(uid: number): Promise<number[]> {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      if (Number(real) === uid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}

/** SIGKILLs every process of a uid until none is left (bounded: 5 s of a fork loop). */
async function killUid(uid: number): Promise<void> {
  if (uid === 0 || uid === process.getuid?.()) throw new Error(`refusing to kill uid ${uid}`);
  const deadline = Date.now() + 5000;
  for (;;) {
    const pids = await processesOfUid(uid);
    if (pids.length === 0 || Date.now() >= deadline) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(10);
  }
}
