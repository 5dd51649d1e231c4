// Backups of add-ons that are checked, on both stores, with real servers: made, listed,
// downloaded whole; restored into the same add-on (after a confirmation) and into a new one;
// a truncated or foreign backup refused with the data untouched; a backup the server cannot
// make recorded as failed and answered as an error, never as a success.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, truncateSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { detectIsolation, stopAddonServers } from '../../src/runtime/index.js';
import { errorCode, startTestServer, type TestServer } from '../support/api.js';
import { backends } from '../support/databases.js';

interface BackupJson {
  name: string;
  kind: string;
  status: string;
  sizeBytes: number | null;
  sha256: string | null;
  error: string | null;
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** One Redis command after AUTH; resolves with the raw replies. */
function redis(url: string, ...command: string[]): Promise<string> {
  const { hostname, port, password } = new URL(url);
  const encode = (args: string[]) =>
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let reply = '';
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      const rest = reply.slice(reply.indexOf('\r\n') + 2);
      if (reply.startsWith('+OK\r\n') && rest.endsWith('\r\n') && rest.length > 2) {
        socket.end();
        resolve(rest);
      }
    });
    socket.once('connect', () =>
      socket.write(encode(['AUTH', 'default', decodeURIComponent(password)]) + encode(command)),
    );
  });
}

for (const backend of backends) {
  describe(`add-on backups (${backend})`, () => {
    let server: TestServer;
    let token: string;
    let ledgerUrl: string;
    let kvUrl: string;

    const urlOf = async (name: string): Promise<string> =>
      (
        (await server.request('GET', `/addons/${name}?reveal=true`, { token })).body as {
          url: string;
        }
      ).url;
    const backup = async (name: string): Promise<BackupJson> => {
      const reply = await server.request('POST', `/addons/${name}/backups`, { token });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body as BackupJson;
    };
    const restore = (name: string, body: Record<string, string>) =>
      server.request('POST', `/addons/${name}/restores`, { token, body });

    before(async () => {
      server = await startTestServer(backend);
      token = server.adminToken;
      for (const [kind, name] of [
        ['postgres', 'ledger'],
        ['redis', 'kv'],
      ]) {
        const created = await server.request('POST', '/addons', { token, body: { kind, name } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
      ledgerUrl = await urlOf('ledger');
      kvUrl = await urlOf('kv');
    });
    after(() => server.close());

    it('backs PostgreSQL up, downloads it whole, and restores a dropped table', async () => {
      await sql(ledgerUrl, 'CREATE TABLE entries (id int PRIMARY KEY, note text)');
      await sql(ledgerUrl, "INSERT INTO entries VALUES (1, 'first'), (2, 'second')");
      const made = await backup('ledger');
      assert.equal(made.status, 'succeeded');
      assert.ok((made.sizeBytes ?? 0) > 0);
      assert.match(made.sha256 ?? '', /^[0-9a-f]{64}$/);
      const file = path.join(server.location.dataDir, 'backups', 'ledger', `${made.name}.dump`);
      assert.ok(existsSync(file));

      const listed = (await server.request('GET', '/addons/ledger/backups', { token }))
        .body as BackupJson[];
      assert.deepEqual(
        listed.map((b) => [b.name, b.status]),
        [[made.name, 'succeeded']],
      );
      const download = await fetch(`${server.url}/api/v1/addons/ledger/backups/${made.name}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(download.status, 200);
      const bytes = Buffer.from(await download.arrayBuffer());
      assert.equal(bytes.length, made.sizeBytes);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), made.sha256);
      assert.equal(download.headers.get('berth-sha256'), made.sha256);

      await sql(ledgerUrl, 'DROP TABLE entries');
      const unconfirmed = await restore('ledger', { backup: made.name });
      assert.equal(unconfirmed.status, 400);
      assert.equal(errorCode(unconfirmed), 'CONFIRMATION_REQUIRED');
      const restored = await restore('ledger', { backup: made.name, confirm: 'ledger' });
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.deepEqual(await sql(ledgerUrl, 'SELECT id, note FROM entries ORDER BY id'), [
        { id: 1, note: 'first' },
        { id: 2, note: 'second' },
      ]);

      // Into a new add-on of the kind, made for it, with its own credentials.
      const copied = await restore('ledger', { backup: made.name, into: 'ledger-copy' });
      assert.equal(copied.status, 200, JSON.stringify(copied.body));
      const copyUrl = await urlOf('ledger-copy');
      assert.notEqual(copyUrl, ledgerUrl);
      assert.deepEqual(await sql(copyUrl, 'SELECT count(*)::int AS n FROM entries'), [{ n: 2 }]);
    });

    it('backs Redis up and restores a key, and the server keeps its append-only file', async () => {
      await redis(kvUrl, 'SET', 'color', 'blue');
      const made = await backup('kv');
      assert.equal(made.status, 'succeeded');
      await redis(kvUrl, 'SET', 'color', 'red');
      const restored = await restore('kv', { backup: made.name, confirm: 'kv' });
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.equal(await redis(kvUrl, 'GET', 'color'), '$4\r\nblue\r\n');
      assert.match(await redis(kvUrl, 'CONFIG', 'GET', 'appendonly'), /yes/);
    });

    it('refuses a truncated backup and a foreign one, and changes nothing', async () => {
      await sql(ledgerUrl, "INSERT INTO entries VALUES (3, 'after the backup')");
      const [made] = (await server.request('GET', '/addons/ledger/backups', { token }))
        .body as BackupJson[];
      assert.ok(made);
      const file = path.join(server.location.dataDir, 'backups', 'ledger', `${made.name}.dump`);
      copyFileSync(file, `${file}.whole`);
      truncateSync(file, Math.floor((made.sizeBytes ?? 2) / 2));
      const cut = await restore('ledger', { backup: made.name, confirm: 'ledger' });
      assert.equal(cut.status, 400);
      assert.equal(errorCode(cut), 'BACKUP_CORRUPT');
      assert.match(
        (cut.body as { error: { message: string } }).error.message,
        /changed or cut short, so nothing was restored/,
      );
      const intoNew = await restore('ledger', { backup: made.name, into: 'never-made' });
      assert.equal(errorCode(intoNew), 'BACKUP_CORRUPT');
      copyFileSync(`${file}.whole`, file);

      const [kvBackup] = (await server.request('GET', '/addons/kv/backups', { token }))
        .body as BackupJson[];
      const foreign = await restore('kv', {
        backup: kvBackup?.name ?? '',
        into: 'ledger',
        confirm: 'ledger',
      });
      assert.equal(foreign.status, 400);
      assert.equal(errorCode(foreign), 'BACKUP_FOREIGN');
      const missing = await restore('ledger', { backup: 'b-nope', confirm: 'ledger' });
      assert.equal(missing.status, 404);
      assert.equal(errorCode(missing), 'BACKUP_NOT_FOUND');

      assert.deepEqual(await sql(ledgerUrl, 'SELECT count(*)::int AS n FROM entries'), [{ n: 3 }]);
      const names = ((await server.request('GET', '/addons', { token })).body as { name: string }[])
        .map((a) => a.name)
        .sort();
      assert.deepEqual(names, ['kv', 'ledger', 'ledger-copy'], 'no add-on was made');
    });

    it('backs up on a schedule, keeps the newest `retain`, and stops when told', async () => {
      for (const [body, code] of [
        [{ schedule: 'sometimes' }, 'INVALID_INPUT'],
        [{ schedule: '61 * * * *' }, 'INVALID_INPUT'],
        [{ schedule: 'hourly', retain: 0 }, 'INVALID_INPUT'],
        [{ schedule: 'hourly', keep: 3 }, 'UNKNOWN_FIELD'],
      ] as const) {
        const reply = await server.request('PUT', '/addons/kv/backup-schedule', { token, body });
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(errorCode(reply), code);
      }
      const set = await server.request('PUT', '/addons/kv/backup-schedule', {
        token,
        body: { schedule: '*/2 * * * * *', retain: 2 },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const shown = set.body as {
        backupSchedule: { expression: string; retain: number; next: string };
      };
      assert.equal(shown.backupSchedule.expression, '*/2 * * * * *');
      assert.ok(new Date(shown.backupSchedule.next).getTime() > Date.now() - 1000);

      const scheduled = async () =>
        (
          (await server.request('GET', '/addons/kv/backups', { token })).body as BackupJson[]
        ).filter((b) => b.name.startsWith('s-'));
      const seen = new Set<string>();
      const deadline = Date.now() + 30_000;
      while (seen.size < 3 && Date.now() < deadline) {
        for (const b of await scheduled()) if (b.status === 'succeeded') seen.add(b.name);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(seen.size >= 3, `three scheduled backups were made: ${[...seen].join(', ')}`);
      const kept = await scheduled();
      assert.ok(kept.filter((b) => b.status === 'succeeded').length <= 2, 'only `retain` are kept');
      const dir = path.join(server.location.dataDir, 'backups', 'kv');
      const onDisk = readdirSync(dir).filter((f) => f.startsWith('s-'));
      assert.ok(onDisk.length <= 3, `old files go with their rows: ${onDisk.join(', ')}`);

      const off = await server.request('PUT', '/addons/kv/backup-schedule', {
        token,
        body: { schedule: null },
      });
      assert.equal((off.body as { backupSchedule: unknown }).backupSchedule, null);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const settled = (await scheduled()).map((b) => b.name);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.deepEqual(
        (await scheduled()).map((b) => b.name),
        settled,
        'no backup after off',
      );
    });

    // Last: it stops the add-on servers under the controller.
    it('records a backup the server cannot make as failed, and answers an error', async () => {
      await stopAddonServers(server.location.dataDir, await detectIsolation(), 1000);
      const reply = await server.request('POST', '/addons/ledger/backups', { token });
      assert.equal(reply.status, 503, JSON.stringify(reply.body));
      assert.equal(errorCode(reply), 'BACKUP_FAILED');
      const [newest] = (await server.request('GET', '/addons/ledger/backups', { token }))
        .body as BackupJson[];
      assert.equal(newest?.status, 'failed');
      assert.match(newest?.error ?? '', /pg_dump failed/);
      const files = readdirSync(path.join(server.location.dataDir, 'backups', 'ledger'));
      assert.ok(!files.some((f) => f.endsWith('.partial')), 'no partial file is left');
      assert.match(server.logText(), /"msg":"backup failed"/);
    });
  });
}
