// `npm run bench -- addons`: how long `addons create` takes until the server accepts
// connections, for PostgreSQL and Redis on the process runtime, side by side with its floor in
// the same run: the same server made directly (initdb with the same flags + postgres with the
// same settings, or redis-server with the same configuration file, each as an unprivileged
// user), asked as often as Berth asks, until it accepts the same kind of credentials on a
// database of the add-on's name. The container runtime's rows come from addons-container.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { POSTGRES_SUPERUSER } from '../src/runtime/addon-clients.js';
import { claimPostgresCluster } from '../src/runtime/process/addon-readiness.js';
import { startBerthServer } from '../test/support/berth-server.js';
import { measureContainerAddons } from './addons-container.js';
import { BerthApiClient } from './berth-api-client.js';
import { compiledBerthEnv } from './compiled-berth.js';
import { freePort } from './deploy-probes.js';
import { round, tableLines, verdict } from './figures.js';

const ROUNDS = 5;
const TARGET_RATIO = 1.3;
/**
 * How often the floor asks a starting server: as often as Berth does
 * (src/runtime/process/addon-readiness.ts), so that neither side loses more to the interval.
 */
const POLL_MS = { postgres: 5, redis: 2 } as const;
/**
 * The pause after each round. A Berth server boots its next spare supervisor 0.3 s after a
 * start took one: that boot must not run beside the next round's floor (it would slow the
 * floor down), and each creation is then measured as one that does not follow another within
 * 0.4 s, as a server's usually does not.
 */
const SETTLE_MS = 600;
/** The uid the Redis floor runs as: unprivileged, with no passwd entry, as an add-on's is. */
const REDIS_FLOOR_UID = 61_999;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

async function postgresBin(): Promise<string | undefined> {
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const newest = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => +b - +a)[0];
  return newest && path.join('/usr/lib/postgresql', newest, 'bin');
}

/** The uid of Debian's postgres user, which Berth's PostgreSQL add-ons run as (root only). */
async function postgresUid(): Promise<number | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  const uid = line?.split(':')[2];
  return uid === undefined ? undefined : Number(uid);
}

/** argv run as `uid` (setpriv) when the bench is root, as it is otherwise. */
function asUser(uid: number | undefined, argv: string[]): string[] {
  if (uid === undefined || process.getuid?.() !== 0) return argv;
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...argv];
}

/**
 * The least a new cluster needs to accept the role on a database of its own name: initdb made
 * `postgres`, and renaming it is a catalog update (CREATE DATABASE would copy template1).
 */
/**
 * The first login to a new cluster, doing what Berth's does (claimPostgresCluster): as the
 * superuser, make the add-on's role, rename initdb's database to the add-on's, give it to the
 * role and take the superuser's password away, in one transaction.
 */
function postgresAccepts(port: number, password: string): Promise<boolean> {
  return claimPostgresCluster({ host: '127.0.0.1', port }, password, {
    user: 'bench',
    password: randomBytes(24).toString('base64url'),
    database: 'bench',
  }).catch(() => false);
}

function redisAccepts(port: number, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.once('error', () => resolve(false));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('+PONG')) {
        socket.destroy();
        resolve(true);
      } else if (reply.includes('-')) {
        socket.destroy();
        resolve(false);
      }
    });
    socket.once('connect', () => socket.write(`AUTH ${password}\r\nPING\r\n`));
  });
}

async function until(check: () => Promise<boolean>, pollMs: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the server did not accept connections in 60 s');
    await sleep(pollMs);
  }
}

async function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  await new Promise((resolve) => child.once('exit', resolve));
}

/** initdb + postgres as the postgres user until it takes the password: the PostgreSQL floor. */
async function postgresFloor(dir: string, bin: string, uid: number | undefined): Promise<number> {
  const data = path.join(dir, `pg-${randomBytes(3).toString('hex')}`);
  await mkdir(data, { mode: 0o700 });
  const password = randomBytes(24).toString('base64url');
  const passwordFile = path.join(dir, `pw-${randomBytes(3).toString('hex')}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (uid !== undefined && process.getuid?.() === 0) {
    await chown(data, uid, uid);
    await chown(passwordFile, uid, uid);
  }
  const port = await freePort();
  const started = performance.now();
  const init = asUser(uid, [
    path.join(bin, 'initdb'),
    '--pgdata',
    data,
    '--username',
    POSTGRES_SUPERUSER,
    `--pwfile=${passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
    '--no-instructions',
  ]);
  const result = spawnSync(init[0] ?? '', init.slice(1), { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`initdb exited with ${String(result.status)}`);
  const server = asUser(uid, [
    path.join(bin, 'postgres'),
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
  ]);
  const child = spawn(server[0] ?? '', server.slice(1), { stdio: 'ignore' });
  try {
    await until(() => postgresAccepts(port, password), POLL_MS.postgres);
    return performance.now() - started;
  } finally {
    await stopped(child);
    await rm(data, { recursive: true, force: true });
    await rm(passwordFile, { force: true });
  }
}

/**
 * redis-server as an unprivileged user, with the configuration file Berth writes (the
 * password in it, not on a command line), until it answers PING: the Redis floor.
 */
async function redisFloor(dir: string): Promise<number> {
  const id = randomBytes(3).toString('hex');
  const data = path.join(dir, `redis-${id}`);
  const config = path.join(dir, `redis-${id}.conf`);
  const password = randomBytes(24).toString('base64url');
  const lines = [
    'bind 127.0.0.1',
    'protected-mode yes',
    `dir ${data}`,
    'appendonly yes',
    'appendfsync everysec',
    'daemonize no',
    'supervised no',
    'logfile ""',
    `requirepass ${password}`,
  ];
  await mkdir(data, { mode: 0o700 });
  await writeFile(config, `${lines.join('\n')}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    await chown(data, REDIS_FLOOR_UID, REDIS_FLOOR_UID);
    await chown(config, REDIS_FLOOR_UID, REDIS_FLOOR_UID);
  }
  const port = await freePort();
  const started = performance.now();
  const argv = asUser(REDIS_FLOOR_UID, ['redis-server', config, '--port', String(port)]);
  const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: 'ignore' });
  try {
    await until(() => redisAccepts(port, password), POLL_MS.redis);
    return performance.now() - started;
  } finally {
    await stopped(child);
    await rm(data, { recursive: true, force: true });
    await rm(config, { force: true });
  }
}

/** One runtime's figures as a table, with the target's verdict per kind. */
function printFigures(
  print: (line: string) => void,
  runtime: string,
  figures: Readonly<Record<string, { berthMs: number; floorMs: number; ratio: number }>>,
): void {
  print(
    `addons create → accepting connections, ${runtime} runtime, median of ${ROUNDS} (target ≤ ${TARGET_RATIO}x the floor)`,
  );
  const rows = Object.entries(figures).map(([kind, f]) => [
    kind,
    `${f.berthMs.toFixed(1)} ms`,
    `${f.floorMs.toFixed(1)} ms`,
    `${f.ratio.toFixed(2)}x`,
    verdict(f.ratio <= TARGET_RATIO),
  ]);
  for (const line of tableLines(['kind', 'berth', 'floor', 'ratio', 'target'], rows)) {
    print(`  ${line}`);
  }
}

export async function runAddonsBench(print: (line: string) => void): Promise<object> {
  const bin = await postgresBin();
  const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
  if (!bin || !hasRedis) {
    const reason =
      'needs Debian postgresql and redis-server (apt-get install postgresql redis-server)';
    print(`skipped: ${reason}`);
    return { skipped: reason };
  }
  const uid = await postgresUid();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-addons-'));
  await chmod(dir, 0o711);
  const server = await startBerthServer({
    dataDir: path.join(dir, 'data'),
    env: { BERTH_UNIT_PORTS: '46000-46999', ...compiledBerthEnv() },
  });
  const figures: Record<string, { berthMs: number; floorMs: number; ratio: number }> = {};
  try {
    const token = (await readFile(path.join(dir, 'data', 'initial-admin-token'), 'utf8')).trim();
    const api = new BerthApiClient(server.url, token);
    for (const kind of ['postgres', 'redis'] as const) {
      const berth: number[] = [];
      const floor: number[] = [];
      // A first round of each, not counted: both sides start warm (page cache, binaries).
      for (let i = 0; i <= ROUNDS; i++) {
        const floorMs =
          kind === 'postgres' ? await postgresFloor(dir, bin, uid) : await redisFloor(dir);
        const name = `bench-${kind}-${i}`;
        const started = performance.now();
        await api.expect(201, 'POST', '/addons', { kind, name });
        const berthMs = performance.now() - started;
        await api.expect(204, 'DELETE', `/addons/${name}?confirm=${name}`);
        await sleep(SETTLE_MS);
        if (i === 0) continue;
        floor.push(floorMs);
        berth.push(berthMs);
      }
      const berthMs = median(berth);
      const floorMs = median(floor);
      figures[kind] = {
        berthMs: round(berthMs, 1),
        floorMs: round(floorMs, 1),
        ratio: round(berthMs / floorMs, 2),
      };
    }
  } finally {
    await server.down();
    await rm(dir, { recursive: true, force: true });
  }
  printFigures(print, 'process', figures);
  const container = await measureContainerAddons(ROUNDS, print);
  if (container && Object.keys(container).length > 0) printFigures(print, 'container', container);
  return { process: figures, ...(container ? { container } : {}) };
}
