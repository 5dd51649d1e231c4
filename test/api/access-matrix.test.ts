import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends } from '../support/databases.js';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  tokenWithScopes,
  type TestServer,
} from '../support/api.js';

type Scope = 'read' | 'write' | 'delete' | 'admin';

interface Caller {
  readonly name: string;
  readonly token: string | undefined;
  /** The user's full token, to prepare things the caller owns. */
  readonly ownerToken: string | undefined;
  readonly scopes: readonly Scope[];
  readonly isAdmin: boolean;
  /** Whether alice's apps are theirs (alice) or visible (admin). */
  readonly reachesAlicesApps: boolean;
}

interface RouteCase {
  readonly method: string;
  /** The path as the OpenAPI document names it. */
  readonly route: string;
  readonly scope: Scope;
  readonly touchesApp: boolean;
  readonly okStatus: number;
  /** Builds the concrete request for a caller (fresh targets for destructive calls). */
  prepare(api: TestServer, caller: Caller, ctx: Context): Promise<{ path: string; body?: unknown }>;
}

interface Context {
  readonly aliceToken: string;
  readonly aliceApp: string;
  counter: number;
}

const unique = (ctx: Context, prefix: string) => `${prefix}${++ctx.counter}`;

const routes: readonly RouteCase[] = [
  {
    method: 'POST',
    route: '/users',
    scope: 'admin',
    touchesApp: false,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({
      path: '/users',
      body: { username: unique(ctx, 'user'), password: 'a-long-password' },
    }),
  },
  {
    method: 'GET',
    route: '/users',
    scope: 'admin',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/users' }),
  },
  {
    method: 'POST',
    route: '/tokens',
    scope: 'write',
    touchesApp: false,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({
      path: '/tokens',
      body: { name: unique(ctx, 'token'), scopes: ['write'] },
    }),
  },
  {
    method: 'GET',
    route: '/tokens',
    scope: 'read',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/tokens' }),
  },
  {
    method: 'DELETE',
    route: '/tokens/{id}',
    scope: 'delete',
    touchesApp: false,
    okStatus: 204,
    prepare: async (api, caller, ctx) => {
      if (!caller.ownerToken) return { path: '/tokens/00000000-0000-0000-0000-000000000000' };
      const created = await api.request('POST', '/tokens', {
        token: caller.ownerToken,
        body: { name: unique(ctx, 'victim'), scopes: ['read'] },
      });
      return { path: `/tokens/${(created.body as { id: string }).id}` };
    },
  },
  {
    method: 'POST',
    route: '/apps',
    scope: 'write',
    touchesApp: false,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({ path: '/apps', body: { name: unique(ctx, 'app') } }),
  },
  {
    method: 'GET',
    route: '/apps',
    scope: 'read',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/apps' }),
  },
  {
    method: 'GET',
    route: '/apps/{app}',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}` }),
  },
  {
    method: 'DELETE',
    route: '/apps/{app}',
    scope: 'delete',
    touchesApp: true,
    okStatus: 204,
    prepare: async (api, _caller, ctx) => {
      const name = unique(ctx, 'doomed');
      const created = await api.request('POST', '/apps', { token: ctx.aliceToken, body: { name } });
      assert.equal(created.status, 201);
      return { path: `/apps/${name}` };
    },
  },
  {
    method: 'GET',
    route: '/apps/{app}/config',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/config` }),
  },
  {
    method: 'PATCH',
    route: '/apps/{app}/config',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/config`,
      body: { [`K${ctx.counter++}`]: 'v' },
    }),
  },
  {
    method: 'GET',
    route: '/audit',
    scope: 'admin',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/audit?start=0&count=5' }),
  },
];

/** What the caller should get: the route's success status, or the error's status and code. */
function expected(route: RouteCase, caller: Caller): { status: number; code?: string } {
  if (caller.token === undefined) return { status: 401, code: 'UNAUTHENTICATED' };
  if (caller.name === 'garbage') return { status: 401, code: 'TOKEN_INVALID' };
  if (!caller.scopes.includes(route.scope)) return { status: 403, code: 'SCOPE_REQUIRED' };
  if (route.touchesApp && !caller.reachesAlicesApps) return { status: 403, code: 'ACCESS_DENIED' };
  return { status: route.okStatus };
}

for (const backend of backends) {
  describe(`access matrix on ${backend}: every route × every kind of caller`, () => {
    let api: TestServer;
    const callers: Caller[] = [];
    let ctx: Context;

    after(() => api?.close());

    before(async () => {
      api = await startTestServer(backend);
      const alice = await createUserAndLogin(api, 'alice');
      const bob = await createUserAndLogin(api, 'bob');
      const aliceApp = await api.request('POST', '/apps', {
        token: alice,
        body: { name: 'alice-app' },
      });
      assert.equal(aliceApp.status, 201);
      ctx = { aliceToken: alice, aliceApp: 'alice-app', counter: 0 };
      const aliceWith = async (name: string, scopes: Scope[]): Promise<Caller> => ({
        name,
        token: await tokenWithScopes(api, alice, scopes),
        ownerToken: alice,
        scopes,
        isAdmin: false,
        reachesAlicesApps: true,
      });
      callers.push(
        {
          name: 'no token',
          token: undefined,
          ownerToken: undefined,
          scopes: [],
          isAdmin: false,
          reachesAlicesApps: false,
        },
        {
          name: 'garbage',
          token: 'berth_not-a-real-token',
          ownerToken: undefined,
          scopes: [],
          isAdmin: false,
          reachesAlicesApps: false,
        },
        await aliceWith('alice read', ['read']),
        await aliceWith('alice write', ['write']),
        await aliceWith('alice delete', ['delete']),
        {
          name: 'alice login',
          token: alice,
          ownerToken: alice,
          scopes: ['read', 'write', 'delete'],
          isAdmin: false,
          reachesAlicesApps: true,
        },
        {
          name: 'bob login',
          token: bob,
          ownerToken: bob,
          scopes: ['read', 'write', 'delete'],
          isAdmin: false,
          reachesAlicesApps: false,
        },
        {
          name: 'admin',
          token: api.adminToken,
          ownerToken: api.adminToken,
          scopes: ['read', 'write', 'delete', 'admin'],
          isAdmin: true,
          reachesAlicesApps: true,
        },
      );
    });

    it('covers every authenticated route of the OpenAPI document', async () => {
      const doc = (await api.request('GET', '/openapi.json')).body as {
        paths: Record<string, Record<string, { security?: unknown }>>;
      };
      const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => op.security)
          .map(([m]) => `${m.toUpperCase()} ${p.replace('/api/v1', '')}`),
      );
      assert.deepEqual(documented.sort(), routes.map((r) => `${r.method} ${r.route}`).sort());
    });

    for (const route of routes) {
      it(`${route.method} ${route.route} (needs ${route.scope}${route.touchesApp ? ' and the app' : ''})`, async () => {
        for (const caller of callers) {
          const { path, body } = await route.prepare(api, caller, ctx);
          const response = await api.request(route.method, path, { token: caller.token, body });
          const want = expected(route, caller);
          const label = `${caller.name}: ${route.method} ${path} → ${response.status} ${JSON.stringify(response.body)?.slice(0, 200)}`;
          assert.equal(response.status, want.status, label);
          if (want.code) assert.equal(errorCode(response), want.code, label);
        }
      });
    }

    it("lists only the caller's own apps, and all of them for an admin", async () => {
      const bob = await createUserAndLogin(api, 'carol');
      await api.request('POST', '/apps', { token: bob, body: { name: 'carol-app' } });
      const carolApps = (await api.request('GET', '/apps', { token: bob })).body as Array<{
        name: string;
      }>;
      assert.deepEqual(
        carolApps.map((a) => a.name),
        ['carol-app'],
      );
      const all = (await api.request('GET', '/apps', { token: api.adminToken })).body as Array<{
        name: string;
      }>;
      assert.ok(all.some((a) => a.name === 'alice-app') && all.some((a) => a.name === 'carol-app'));
    });
  });
}
