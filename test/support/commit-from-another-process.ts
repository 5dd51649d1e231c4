// Run as a separate process: opens the store at the given PostgreSQL URL (a second controller)
// and commits one new app row, then exits. Used by the cross-process change-stream test.
import { openStore } from '../../src/store/index.js';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [databaseUrl, id] = process.argv.slice(2);
if (!databaseUrl || !id) throw new Error('usage: commit-from-another-process URL ID');
const store = await openStore({
  dataDir: mkdtempSync(path.join(os.tmpdir(), 'berth-other-')),
  databaseUrl,
});
const now = new Date().toISOString();
await store.transact((tx) =>
  tx
    .insertInto('apps')
    .values({ id, name: id, owner_id: 'u-test', created_at: now, updated_at: now })
    .execute(),
);
await store.close();
