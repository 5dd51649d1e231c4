import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { backends } from '../support/databases.js';
import {
  createUserAndLogin,
  startTestServer,
  tokenWithScopes,
  type TestServer,
} from '../support/api.js';

const SECRET = 'sk_live_Zebra-Quasar-7731-plaintext';

for (const backend of backends) {
  describe(`config vars on ${backend}: encrypted at rest, never logged`, () => {
    let api: TestServer;
    let alice: string;

    after(() => api?.close());

    before(async () => {
      api = await startTestServer(backend);
      alice = await createUserAndLogin(api, 'alice');
      await api.request('POST', '/apps', { token: alice, body: { name: 'shop' } });
    });

    it('sets, reads back and unsets vars in one PATCH', async () => {
      const set = await api.request('PATCH', '/apps/shop/config', {
        token: alice,
        body: { API_KEY: SECRET, MODE: 'live' },
      });
      assert.equal(set.status, 200);
      assert.deepEqual(set.body, { API_KEY: SECRET, MODE: 'live' });
      const unset = await api.request('PATCH', '/apps/shop/config', {
        token: alice,
        body: { MODE: null, REGION: 'eu' },
      });
      assert.deepEqual(unset.body, { API_KEY: SECRET, REGION: 'eu' });
    });

    it('hides values from a token that may only read', async () => {
      const reader = await tokenWithScopes(api, alice, ['read']);
      const response = await api.request('GET', '/apps/shop/config', { token: reader });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { API_KEY: null, REGION: null });
    });

    it('keeps no plaintext value in the database', async () => {
      if (backend === 'sqlite') {
        for (const file of readdirSync(api.location.dataDir).filter((f) =>
          f.startsWith('berth.db'),
        )) {
          const bytes = readFileSync(path.join(api.location.dataDir, file));
          assert.equal(bytes.includes(SECRET), false, `${file} holds the plaintext`);
          assert.equal(bytes.includes(Buffer.from(SECRET, 'utf16le')), false);
        }
      } else {
        const client = new pg.Client({ connectionString: api.location.databaseUrl });
        await client.connect();
        try {
          const rows = await client.query<{ row: string }>(
            'SELECT row_to_json(c)::text AS row FROM config_vars c',
          );
          assert.ok(rows.rows.length >= 2);
          for (const { row } of rows.rows) assert.equal(row.includes(SECRET), false);
          const everything = await client.query<{ dump: string }>(
            `SELECT string_agg(row_to_json(t)::text, '') AS dump FROM (SELECT * FROM config_vars) t`,
          );
          assert.equal(everything.rows[0]?.dump.includes(SECRET), false);
        } finally {
          await client.end();
        }
      }
    });

    it('never writes a value, a password or a token to the log', async () => {
      const log = api.logText();
      assert.equal(log.includes(SECRET), false);
      assert.equal(log.includes('pw-alice-correct-horse'), false);
      assert.equal(log.includes(alice), false);
    });

    it('keeps the master key file private', async () => {
      const { statSync } = await import('node:fs');
      const mode = statSync(path.join(api.location.dataDir, 'master.key')).mode & 0o777;
      assert.equal(mode, 0o600);
      const tokenMode =
        statSync(path.join(api.location.dataDir, 'initial-admin-token')).mode & 0o777;
      assert.equal(tokenMode, 0o600);
    });
  });
}
