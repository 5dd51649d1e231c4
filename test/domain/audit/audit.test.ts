import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, InputError } from '../../../src/errors/index.js';
import {
  AuditService,
  MAX_AUDIT_FIELD_LENGTH,
  type AuditEntryInput,
} from '../../../src/domain/audit/index.js';
import { backends } from '../../support/databases.js';
import { openTestStore } from '../../support/stores.js';

/** A clock that moves one second each time it is read, so entries have distinct times. */
function tickingClock(start = Date.parse('2030-01-01T00:00:00.000Z')): () => Date {
  let now = start;
  return () => new Date((now += 1000));
}

async function openAudit(backend: (typeof backends)[number]) {
  const { store } = await openTestStore(backend);
  return { store, audit: new AuditService({ store, clock: tickingClock() }) };
}

function entry(i: number): AuditEntryInput {
  return {
    actorId: 'u-1',
    actorName: 'alice',
    tokenId: 't-1',
    action: 'POST /api/v1/apps',
    target: `app-${i}`,
    outcome: i % 2 === 0 ? 'success' : 'failure',
    status: i % 2 === 0 ? 201 : 409,
    requestId: `req-${i}`,
  };
}

for (const backend of backends) {
  describe(`audit log on ${backend}`, () => {
    it('records an entry with every field, and nulls for those left out', async () => {
      const { audit } = await openAudit(backend);
      await audit.record({ ...entry(0), detail: 'created' });
      await audit.record({ action: 'POST /api/v1/auth/login', outcome: 'failure', status: 401 });
      const page = await audit.list({ start: 0, count: 10 });
      assert.equal(page.totalEntriesCount, 2);
      const [bare, full] = page.entries;
      assert.deepEqual(
        { ...bare, id: undefined },
        {
          id: undefined,
          at: '2030-01-01T00:00:02.000Z',
          actorId: null,
          actorName: null,
          tokenId: null,
          action: 'POST /api/v1/auth/login',
          target: null,
          outcome: 'failure',
          status: 401,
          requestId: null,
          detail: null,
        },
      );
      assert.deepEqual(
        { ...full, id: undefined },
        {
          id: undefined,
          at: '2030-01-01T00:00:01.000Z',
          actorId: 'u-1',
          actorName: 'alice',
          tokenId: 't-1',
          action: 'POST /api/v1/apps',
          target: 'app-0',
          outcome: 'success',
          status: 201,
          requestId: 'req-0',
          detail: 'created',
        },
      );
      assert.notEqual(bare?.id, full?.id);
    });

    it('cuts overlong fields instead of failing', async () => {
      const { audit } = await openAudit(backend);
      await audit.record({ ...entry(0), detail: 'x'.repeat(10_000) });
      const [recorded] = (await audit.list({ start: 0, count: 1 })).entries;
      assert.equal(recorded?.detail?.length, MAX_AUDIT_FIELD_LENGTH);
    });

    it('refuses an entry without an action, outcome or integer status', async () => {
      const { audit } = await openAudit(backend);
      await assert.rejects(audit.record({ ...entry(0), action: '' }), InputError);
      await assert.rejects(
        audit.record({ ...entry(0), outcome: 'maybe' as 'success' }),
        InputError,
      );
      await assert.rejects(audit.record({ ...entry(0), status: 200.5 }), InputError);
      assert.equal((await audit.list({ start: 0, count: 1 })).totalEntriesCount, 0);
    });

    it('pages newest first', async () => {
      const { audit } = await openAudit(backend);
      for (let i = 0; i < 7; i++) await audit.record(entry(i));
      const first = await audit.list({ start: 0, count: 3 });
      assert.equal(first.start, 0);
      assert.equal(first.totalEntriesCount, 7);
      assert.equal(first.entriesCount, 3);
      assert.deepEqual(
        first.entries.map((e) => e.target),
        ['app-6', 'app-5', 'app-4'],
      );
      const last = await audit.list({ start: 6, count: 3 });
      assert.deepEqual(
        { start: last.start, total: last.totalEntriesCount, count: last.entriesCount },
        { start: 6, total: 7, count: 1 },
      );
      assert.equal(last.entries[0]?.target, 'app-0');
      const all = await audit.list({ start: 0, count: 500 });
      assert.equal(all.entriesCount, 7);
      assert.deepEqual(await audit.list(), { ...all, entries: all.entries });
    });

    it('answers a start past the end and a count of 0 with an empty page and the total', async () => {
      const { audit } = await openAudit(backend);
      for (let i = 0; i < 3; i++) await audit.record(entry(i));
      assert.deepEqual(await audit.list({ start: 3, count: 10 }), {
        start: 3,
        totalEntriesCount: 3,
        entriesCount: 0,
        entries: [],
      });
      assert.deepEqual(await audit.list({ start: 1000, count: 10 }), {
        start: 1000,
        totalEntriesCount: 3,
        entriesCount: 0,
        entries: [],
      });
      assert.deepEqual(await audit.list({ start: 0, count: 0 }), {
        start: 0,
        totalEntriesCount: 3,
        entriesCount: 0,
        entries: [],
      });
    });

    it('refuses a negative start and a count outside 0..500', async () => {
      const { audit } = await openAudit(backend);
      for (const page of [
        { start: -1, count: 10 },
        { start: 0, count: -1 },
        { start: 0, count: 501 },
        { start: 0.5, count: 10 },
        { start: 0, count: Number.NaN },
      ]) {
        await assert.rejects(audit.list(page), (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.equal(error.code, ErrorCodes.INVALID_INPUT);
          return true;
        });
      }
    });
  });
}
