// A private PostgreSQL cluster for tests: Debian's binaries, a temp data dir, a free port,
// started as the `postgres` user when running as root (initdb refuses root).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PostgresCluster {
  /** A URL of the cluster's `postgres` database, as superuser. */
  readonly adminUrl: string;
  stop(): void;
}

/** Where Debian keeps the server binaries; BERTH_TEST_PG_BIN overrides. */
export function findPostgresBin(): string | undefined {
  const override = process.env['BERTH_TEST_PG_BIN'];
  if (override) return override;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function runAs(uid: number | undefined, gid: number | undefined, file: string, args: string[]) {
  const result = spawnSync(file, args, {
    encoding: 'utf8',
    ...(uid === undefined ? {} : { uid, gid }),
    env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    cwd: os.tmpdir(),
  });
  if (result.status !== 0) {
    throw new Error(
      `${path.basename(file)} ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`,
    );
  }
}

/** Starts a fresh cluster. Throws with a clear message when PostgreSQL is not installed. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error(
      'PostgreSQL is not installed: the store tests need it (apt-get install -y postgresql), ' +
        'or set BERTH_TEST_DATABASE_URL to a server where the user may CREATE DATABASE',
    );
  }
  let uid: number | undefined;
  let gid: number | undefined;
  if (process.getuid?.() === 0) {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-pg-'));
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  runAs(uid, gid, path.join(bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  runAs(uid, gid, path.join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-l',
    path.join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${dir} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    'start',
  ]);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        runAs(uid, gid, path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
