// Turns "listen EADDRINUSE" into one line a new user can act on: the flag that moves the address
// and, where /proc tells, the process that holds it (a Berth router is named by its data dir).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { readRouterPidFile, RouterAddressInUseError } from '../router/index.js';

/** A listen flag of `berth server` and the address it was given. */
export interface ListenFlag {
  readonly flag: 'listen' | 'router-listen' | 'ssh-listen';
  readonly host: string;
  readonly port: number;
}

/** Who holds a port: a pid and its command line. */
interface Holder {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** The inodes of the sockets listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const inode = fields[9];
      // 0A is TCP_LISTEN.
      if (local?.endsWith(`:${hexPort}`) && fields[3] === '0A' && inode && inode !== '0') {
        inodes.add(inode);
      }
    }
  }
  return inodes;
}

/**
 * The process whose open files include one of the sockets, found through /proc/PID/fd. Another
 * user's processes cannot be read unless this one is root; then the holder stays unknown.
 */
function socketHolder(inodes: ReadonlySet<string>): Holder | undefined {
  if (inodes.size === 0) return undefined;
  const links = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!links.has(target)) continue;
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      } catch {
        // It exited meanwhile: the pid alone still says something.
      }
      return { pid: Number(entry), argv };
    }
  }
  return undefined;
}

/** `berth router` or `berth server` in a command line, and the data dir it names, if any. */
function berthCommand(argv: readonly string[]): { command: string; dataDir?: string } | undefined {
  const bin = argv.findIndex((arg) => /(^|\/)berth(\.js)?$/.test(arg));
  const command = bin === -1 ? undefined : argv[bin + 1];
  if (command !== 'router' && command !== 'server') return undefined;
  const flag = argv.indexOf('--data-dir');
  const dataDir = flag === -1 ? undefined : argv[flag + 1];
  return dataDir === undefined ? { command } : { command, dataDir: path.resolve(dataDir) };
}

/** "by …" for the holder of a port, or '' when it cannot be found. */
async function describeHolder(port: number): Promise<string> {
  const holder = socketHolder(listeningInodes(port));
  if (holder === undefined) return '';
  const berth = berthCommand(holder.argv);
  if (berth?.command === 'router' && berth.dataDir !== undefined) {
    // The router's own pid file confirms it is the router of that data dir, not a lookalike.
    const pidFile = await readRouterPidFile(path.join(berth.dataDir, 'router'));
    if (pidFile?.pid === holder.pid) {
      return (
        ` by the router of the Berth in ${berth.dataDir} (pid ${holder.pid}; ` +
        `'berth down --data-dir ${berth.dataDir}' stops it)`
      );
    }
  }
  if (berth?.command === 'server') {
    const where = berth.dataDir === undefined ? '' : ` of ${berth.dataDir}`;
    return ` by the Berth controller${where} (pid ${holder.pid})`;
  }
  const command = holder.argv.join(' ');
  const shown = command.length > 80 ? `${command.slice(0, 77)}...` : command;
  return ` by pid ${holder.pid}${shown ? ` (${shown})` : ''}`;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * One line for an address-in-use failure of `berth server` or `berth router`, naming the flag
 * that moves the address; undefined for any other error.
 */
export async function explainAddressInUse(
  error: unknown,
  flags: readonly ListenFlag[],
): Promise<string | undefined> {
  let flag: ListenFlag | undefined;
  if (error instanceof RouterAddressInUseError) {
    flag = flags.find((f) => f.flag === 'router-listen');
  } else if (
    error instanceof Error &&
    (error as NodeJS.ErrnoException).code === 'EADDRINUSE' &&
    'port' in error
  ) {
    flag = flags.find((f) => f.port === error.port);
  }
  if (flag === undefined) return undefined;
  return (
    `${hostPort(flag.host, flag.port)} is already in use${await describeHolder(flag.port)}; ` +
    `choose another address with --${flag.flag} HOST:PORT`
  );
}
