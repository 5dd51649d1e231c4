import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUserAndLogin, errorCode, startTestServer, type TestServer } from '../support/api.js';

type Operation = {
  responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
  security?: unknown;
  summary?: string;
};

describe('the OpenAPI document', () => {
  let api: TestServer;
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    components: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
  };

  after(() => api?.close());

  before(async () => {
    api = await startTestServer('sqlite');
    const response = await api.request('GET', '/openapi.json');
    assert.equal(response.status, 200);
    doc = response.body as typeof doc;
  });

  it('is OpenAPI 3 with the bearer scheme', () => {
    assert.match(doc.openapi, /^3\.0\.\d$/);
    assert.deepEqual(doc.components.securitySchemes?.['bearer'], {
      type: 'http',
      scheme: 'bearer',
    });
  });

  it('lists every route of the contract implemented so far', () => {
    const operations = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const expected of [
      'GET /api/v1/health',
      'POST /api/v1/auth/login',
      'POST /api/v1/users',
      'GET /api/v1/users',
      'POST /api/v1/tokens',
      'GET /api/v1/tokens',
      'DELETE /api/v1/tokens/{id}',
      'POST /api/v1/apps',
      'GET /api/v1/apps',
      'GET /api/v1/apps/{app}',
      'DELETE /api/v1/apps/{app}',
      'GET /api/v1/apps/{app}/config',
      'PATCH /api/v1/apps/{app}/config',
      'GET /api/v1/audit',
      'GET /api/v1/ws',
    ]) {
      assert.ok(operations.includes(expected), `${expected} is documented`);
    }
  });

  it('gives every operation a summary, a success response and its error responses', () => {
    const refs: string[] = [];
    JSON.stringify(doc, (key, value: unknown) => {
      if (key === '$ref' && typeof value === 'string') refs.push(value);
      return value;
    });
    for (const ref of refs) {
      const name = ref.replace('#/components/schemas/', '');
      assert.ok(doc.components.schemas?.[name], `${ref} resolves`);
    }
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const label = `${method.toUpperCase()} ${p}`;
        assert.ok(op.summary, `${label} has a summary`);
        const statuses = Object.keys(op.responses);
        assert.ok(
          statuses.some((s) => s.startsWith('2') || s === '101'),
          `${label} has a success response`,
        );
        assert.ok(
          statuses.includes('400') && statuses.includes('500'),
          `${label} documents 400 and 500`,
        );
        if (op.security)
          assert.ok(
            statuses.includes('401') && statuses.includes('403'),
            `${label} documents 401/403`,
          );
        if (p.includes('{app}')) assert.ok(statuses.includes('404'), `${label} documents 404`);
      }
    }
  });

  it('records every mutating call in the audit log, readable by admins only', async () => {
    const alice = await createUserAndLogin(api, 'alice');
    await api.request('POST', '/apps', { token: alice, body: { name: 'audited' } });
    await api.request('POST', '/apps', { token: alice, body: { name: 'BAD' } });
    await api.request('DELETE', '/apps/audited', { token: 'berth_bogus' });
    const denied = await api.request('GET', '/audit', { token: alice });
    assert.equal(denied.status, 403);
    const log = await api.request('GET', '/audit?start=0&count=50', { token: api.adminToken });
    assert.equal(log.status, 200);
    const page = log.body as { totalEntriesCount: number; entries: Array<Record<string, unknown>> };
    const find = (status: number, action: string) =>
      page.entries.find((e) => e['status'] === status && e['action'] === action);
    const created = find(201, 'POST /api/v1/apps');
    assert.equal(created?.['actorName'], 'alice');
    assert.equal(created?.['outcome'], 'success');
    assert.equal(find(400, 'POST /api/v1/apps')?.['outcome'], 'failure');
    const anonymous = find(401, 'DELETE /api/v1/apps/:app');
    assert.equal(anonymous?.['actorId'], null);
    assert.equal(anonymous?.['target'], 'audited');
    assert.ok(
      page.entries.some(
        (e) => e['action'] === 'POST /api/v1/auth/login' && e['actorName'] === 'alice',
      ),
    );
    assert.ok(!JSON.stringify(page).includes('pw-alice'), 'no password in the audit log');
    const badPage = await api.request('GET', '/audit?start=-1', { token: api.adminToken });
    assert.equal(badPage.status, 400);
    assert.equal(errorCode(badPage), 'INVALID_INPUT');
    const past = await api.request('GET', '/audit?start=100000&count=5', { token: api.adminToken });
    assert.equal((past.body as { entriesCount: number }).entriesCount, 0);
  });
});
