// The few client calls Berth makes to the database servers it runs for add-ons, on every
// runtime: "does it accept these credentials yet", and one Redis command. Client tools
// (pg_dump, redis-cli) are each runtime's business; these speak the protocols directly.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddonCredentials } from './addons.js';

/** Where a server listens, as the controller reaches it. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

function encodeRedisCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Whether Redis answers AUTH with the password and then PING: it accepts connections. */
export function redisAccepts(address: ServerAddress, password: string): Promise<boolean> {
  return redisCommand(address, password, ['PING'], 2000).then(
    (reply) => reply === '+PONG',
    () => false,
  );
}

/**
 * One Redis command after AUTH, over RESP; resolves with its reply (a bulk string's text, or
 * a simple reply's line with its `+`). Rejects on a refused password, an error reply, or no
 * answer within `timeoutMs`.
 */
export function redisCommand(
  address: ServerAddress,
  password: string,
  command: readonly string[],
  timeoutMs = 10_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(address);
    let buffer = Buffer.alloc(0);
    const replies: string[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`Redis did not answer ${command[0] ?? ''}`));
    });
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n');
        if (end === -1) return;
        const head = buffer.subarray(0, end).toString('utf8');
        if (head === '$-1') {
          // A nil bulk string (GET of a missing key): answered as ''.
          replies.push('');
          buffer = buffer.subarray(end + 2);
        } else if (head.startsWith('$')) {
          const length = Number(head.slice(1));
          if (buffer.length < end + 2 + length + 2) return;
          replies.push(buffer.subarray(end + 2, end + 2 + length).toString('utf8'));
          buffer = buffer.subarray(end + 2 + length + 2);
        } else {
          replies.push(head);
          buffer = buffer.subarray(end + 2);
        }
        if (replies.length === 2) {
          socket.destroy();
          const [auth, reply = ''] = replies;
          if (!auth?.startsWith('+OK')) reject(new Error('Redis refused the password'));
          else if (reply.startsWith('-')) reject(new Error(`Redis: ${reply.slice(1)}`));
          else resolve(reply);
          return;
        }
      }
    });
    socket.once('connect', () =>
      socket.write(encodeRedisCommand(['AUTH', 'default', password]) + encodeRedisCommand(command)),
    );
  });
}

/**
 * Whether PostgreSQL accepts the add-on's role on its database. With `createDatabase` it
 * connects to `postgres` instead and creates the add-on's database (the first time only).
 */
export async function postgresAccepts(
  address: ServerAddress,
  credentials: AddonCredentials,
  createDatabase: boolean,
): Promise<boolean> {
  // Loaded here: a server without PostgreSQL add-ons or a PostgreSQL store never loads pg.
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: address.host,
    port: address.port,
    user: credentials.user,
    password: credentials.password,
    database: createDatabase ? 'postgres' : credentials.database,
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return false;
  }
  try {
    if (createDatabase) {
      // Names are the add-on's, made of [a-z0-9_]; quoted all the same.
      await client.query(`CREATE DATABASE "${credentials.database.replace(/"/g, '""')}"`);
    }
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The server's major version ('15') once PostgreSQL accepts the add-on's role on its
 * database, else undefined: readiness and the version in one login (a SCRAM login costs both
 * sides a key derivation).
 */
export async function postgresVersionWhenReady(
  address: ServerAddress,
  credentials: AddonCredentials,
): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: address.host,
    port: address.port,
    user: credentials.user,
    password: credentials.password,
    database: credentials.database,
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return undefined;
  }
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return /^(\d+)/.exec(rows[0]?.server_version ?? '')?.[1] ?? '';
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Redis's major.minor version ('7.0') once it accepts the password and has loaded its data. */
export async function redisVersionWhenReady(
  address: ServerAddress,
  password: string,
): Promise<string | undefined> {
  try {
    const info = await redisCommand(address, password, ['INFO', 'server'], 2000);
    return /redis_version:(\d+\.\d+)/.exec(info)?.[1] ?? '';
  } catch {
    return undefined;
  }
}

/**
 * The cluster's superuser on a PostgreSQL add-on: a name no add-on's role can have (roles are
 * [a-z0-9_]), which loses its password once the add-on's role is made, so that nobody logs in
 * as it. The add-on's role is an ordinary one that owns its database: an app holding the URL
 * cannot read the server's files or run programs as the server's user.
 */
export const POSTGRES_SUPERUSER = 'berth-superuser';

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5803's form, as psql's
 * \password sends it): the password itself then never travels in SQL, where a failed
 * statement's text could reach a log.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A role or database name Berth made ([a-z0-9_]), double-quoted; anything else is refused. */
export function quotedName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`'${name}' is not an add-on name`);
  return `"${name}"`;
}

/**
 * Turns Redis's append-only file on (a rewrite from memory, as after loading a snapshot) and
 * resolves once the rewrite finished well; rejects after `timeoutMs`.
 */
export async function redisAppendOnlyOn(
  address: ServerAddress,
  password: string,
  timeoutMs: number,
): Promise<void> {
  await redisCommand(address, password, ['CONFIG', 'SET', 'appendonly', 'yes']);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await redisCommand(address, password, ['INFO', 'persistence']);
    if (
      /aof_enabled:1/.test(info) &&
      /aof_rewrite_in_progress:0/.test(info) &&
      /aof_rewrite_scheduled:0/.test(info) &&
      /aof_last_bgrewrite_status:ok/.test(info)
    )
      return;
    if (Date.now() > deadline) throw new Error('Redis did not write its append-only file in time');
    await sleep(50);
  }
}
