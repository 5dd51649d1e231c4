import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeApp, tarGzBundle } from '../support/bundles.js';
import { backends } from '../support/databases.js';
import { freshPublicKeyLine } from '../support/ssh-keys.js';
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
  prepare(
    api: TestServer,
    caller: Caller,
    ctx: Context,
  ): Promise<{ path: string; body?: unknown; bundle?: Buffer }>;
}

interface Context {
  readonly aliceToken: string;
  readonly aliceApp: string;
  readonly aliceDeployment: string;
  /** A Redis add-on of alice's, and a backup of it. */
  readonly aliceAddon: string;
  readonly aliceBackup: string;
  readonly bundle: Buffer;
  counter: number;
}

/** A fresh app of alice's, optionally deployed (and the deployment finished). */
async function aliceAppWith(
  api: TestServer,
  ctx: Context,
  prefix: string,
  deployed: boolean,
): Promise<string> {
  const name = unique(ctx, prefix);
  assert.equal(
    (await api.request('POST', '/apps', { token: ctx.aliceToken, body: { name } })).status,
    201,
  );
  if (!deployed) return name;
  const queued = await api.request('POST', `/deployments/${name}`, {
    token: ctx.aliceToken,
    raw: { data: ctx.bundle, contentType: 'application/gzip' },
  });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  for (let i = 0; i < 400; i++) {
    if (
      (await api.request('GET', `/deployments/${name}`, { token: ctx.aliceToken })).status === 200
    )
      return name;
    await sleep(25);
  }
  throw new Error(`deploying ${name} did not finish`);
}

const unique = (ctx: Context, prefix: string) => `${prefix}${++ctx.counter}`;

/** The id of the cron entry of alice's app, once the live release's schedules are in. */
async function aliceCron(api: TestServer, ctx: Context): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const listed = await api.request('GET', `/apps/${ctx.aliceApp}/cron`, {
      token: ctx.aliceToken,
    });
    const [first] = listed.body as Array<{ id: string }>;
    if (first) return first.id;
    await sleep(25);
  }
  throw new Error(`the cron schedules of ${ctx.aliceApp} did not appear`);
}

/** A fresh Redis add-on of alice's (Redis: it starts in a fraction of a second). */
async function aliceAddonWith(api: TestServer, ctx: Context, prefix: string): Promise<string> {
  const name = unique(ctx, prefix);
  const created = await api.request('POST', '/addons', {
    token: ctx.aliceToken,
    body: { kind: 'redis', name },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return name;
}

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
    route: '/keys',
    scope: 'write',
    touchesApp: false,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({
      path: '/keys',
      body: { name: unique(ctx, 'key'), publicKey: freshPublicKeyLine() },
    }),
  },
  {
    method: 'GET',
    route: '/keys',
    scope: 'read',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/keys' }),
  },
  {
    method: 'DELETE',
    route: '/keys/{id}',
    scope: 'delete',
    touchesApp: false,
    okStatus: 204,
    prepare: async (api, caller, ctx) => {
      if (!caller.ownerToken) return { path: '/keys/00000000-0000-0000-0000-000000000000' };
      const created = await api.request('POST', '/keys', {
        token: caller.ownerToken,
        body: { name: unique(ctx, 'victim'), publicKey: freshPublicKeyLine() },
      });
      return { path: `/keys/${(created.body as { id: string }).id}` };
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
  {
    method: 'POST',
    route: '/deployments/{app}',
    scope: 'write',
    touchesApp: true,
    okStatus: 202,
    prepare: async (api, _caller, ctx) => ({
      path: `/deployments/${await aliceAppWith(api, ctx, 'deploy', false)}`,
      bundle: ctx.bundle,
    }),
  },
  {
    method: 'GET',
    route: '/deployments/{app}',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/deployments/${ctx.aliceApp}` }),
  },
  {
    method: 'GET',
    route: '/deployments',
    scope: 'read',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/deployments' }),
  },
  {
    method: 'DELETE',
    route: '/deployments/{app}',
    scope: 'delete',
    touchesApp: true,
    okStatus: 204,
    prepare: async (api, _caller, ctx) => ({
      path: `/deployments/${await aliceAppWith(api, ctx, 'undeploy', true)}`,
    }),
  },
  {
    method: 'GET',
    route: '/deployments/configs/{app}',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/deployments/configs/${ctx.aliceApp}` }),
  },
  {
    method: 'PUT',
    route: '/deployments/configs/{app}',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/deployments/configs/${ctx.aliceApp}`,
      body: { web: { K: String(ctx.counter++) } },
    }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/deployments',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/deployments` }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/deployments/{id}',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/deployments/${ctx.aliceDeployment}`,
    }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/deployments/{id}/events',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/deployments/${ctx.aliceDeployment}/events?after=0`,
    }),
  },
  {
    method: 'POST',
    route: '/apps/{app}/deployments/{id}/cancel',
    scope: 'write',
    touchesApp: true,
    okStatus: 202,
    prepare: async (api, _caller, ctx) => {
      const name = await aliceAppWith(api, ctx, 'cancel', false);
      const queued = await api.request('POST', `/deployments/${name}`, {
        token: ctx.aliceToken,
        raw: { data: ctx.bundle, contentType: 'application/gzip' },
      });
      return { path: `/apps/${name}/deployments/${(queued.body as { id: string }).id}/cancel` };
    },
  },
  {
    method: 'GET',
    route: '/apps/{app}/releases',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/releases` }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/kube-manifests',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/kube-manifests` }),
  },
  {
    method: 'POST',
    route: '/apps/{app}/rollback',
    scope: 'write',
    touchesApp: true,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/rollback`,
      body: { version: 1 },
    }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/formation',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/formation` }),
  },
  {
    method: 'PATCH',
    route: '/apps/{app}/formation',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/formation`,
      body: { web: 1 },
    }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/processes',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/processes` }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/logs',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/logs?tail=5` }),
  },
  {
    method: 'POST',
    route: '/apps/{app}/run',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/run`,
      body: { command: 'true' },
    }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/cron',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/cron` }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/cron/runs',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/cron/runs` }),
  },
  {
    method: 'POST',
    route: '/apps/{app}/cron/{id}/runs',
    scope: 'write',
    touchesApp: true,
    okStatus: 202,
    prepare: async (api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/cron/${await aliceCron(api, ctx)}/runs`,
    }),
  },
  ...(['suspend', 'resume'] as const).map((action): RouteCase => ({
    method: 'POST',
    route: `/apps/{app}/cron/{id}/${action}`,
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/cron/${await aliceCron(api, ctx)}/${action}`,
    }),
  })),
  {
    method: 'GET',
    route: '/apps/{app}/git',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/git` }),
  },
  {
    method: 'PUT',
    route: '/apps/{app}/git',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/git`,
      body: { deployBranch: 'main' },
    }),
  },
  {
    method: 'GET',
    route: '/addons',
    scope: 'read',
    touchesApp: false,
    okStatus: 200,
    prepare: async () => ({ path: '/addons' }),
  },
  {
    method: 'POST',
    route: '/addons',
    scope: 'write',
    touchesApp: false,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({
      path: '/addons',
      body: { kind: 'redis', name: unique(ctx, 'cache') },
    }),
  },
  {
    method: 'GET',
    route: '/addons/{addon}',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/addons/${ctx.aliceAddon}` }),
  },
  {
    method: 'POST',
    route: '/addons/{addon}/attachments',
    scope: 'write',
    touchesApp: true,
    okStatus: 201,
    prepare: async (api, _caller, ctx) => ({
      path: `/addons/${ctx.aliceAddon}/attachments`,
      body: { app: await aliceAppWith(api, ctx, 'attach-to', false) },
    }),
  },
  {
    method: 'DELETE',
    route: '/addons/{addon}/attachments/{app}',
    scope: 'delete',
    touchesApp: true,
    okStatus: 200,
    prepare: async (api, _caller, ctx) => {
      const app = await aliceAppWith(api, ctx, 'detach-from', false);
      const attached = await api.request('POST', `/addons/${ctx.aliceAddon}/attachments`, {
        token: ctx.aliceToken,
        body: { app },
      });
      assert.equal(attached.status, 201, JSON.stringify(attached.body));
      return { path: `/addons/${ctx.aliceAddon}/attachments/${app}` };
    },
  },
  {
    method: 'POST',
    route: '/addons/{addon}/backups',
    scope: 'write',
    touchesApp: true,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({ path: `/addons/${ctx.aliceAddon}/backups` }),
  },
  {
    method: 'PUT',
    route: '/addons/{addon}/backup-schedule',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/addons/${ctx.aliceAddon}/backup-schedule`,
      body: { schedule: 'daily', retain: 3 },
    }),
  },
  {
    method: 'GET',
    route: '/addons/{addon}/backups',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/addons/${ctx.aliceAddon}/backups` }),
  },
  {
    method: 'GET',
    route: '/addons/{addon}/backups/{backup}',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/addons/${ctx.aliceAddon}/backups/${ctx.aliceBackup}`,
    }),
  },
  {
    method: 'POST',
    route: '/addons/{addon}/restores',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({
      path: `/addons/${ctx.aliceAddon}/restores`,
      body: { backup: ctx.aliceBackup, confirm: ctx.aliceAddon },
    }),
  },
  {
    method: 'GET',
    route: '/apps/{app}/domains',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/domains` }),
  },
  {
    method: 'POST',
    route: '/apps/{app}/domains',
    scope: 'write',
    touchesApp: true,
    okStatus: 201,
    prepare: async (_api, _caller, ctx) => ({
      path: `/apps/${ctx.aliceApp}/domains`,
      body: { host: `${unique(ctx, 'www')}.alice.example` },
    }),
  },
  {
    method: 'DELETE',
    route: '/apps/{app}/domains/{host}',
    scope: 'delete',
    touchesApp: true,
    okStatus: 204,
    prepare: async (api, _caller, ctx) => {
      const host = `${unique(ctx, 'gone')}.alice.example`;
      const added = await api.request('POST', `/apps/${ctx.aliceApp}/domains`, {
        token: ctx.aliceToken,
        body: { host },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      return { path: `/apps/${ctx.aliceApp}/domains/${host}` };
    },
  },
  {
    method: 'GET',
    route: '/apps/{app}/maintenance',
    scope: 'read',
    touchesApp: true,
    okStatus: 200,
    prepare: async (_api, _caller, ctx) => ({ path: `/apps/${ctx.aliceApp}/maintenance` }),
  },
  {
    method: 'PUT',
    route: '/apps/{app}/maintenance',
    scope: 'write',
    touchesApp: true,
    okStatus: 200,
    prepare: async (api, _caller, ctx) => ({
      path: `/apps/${await aliceAppWith(api, ctx, 'paused', false)}/maintenance`,
      body: { message: 'back soon' },
    }),
  },
  {
    method: 'DELETE',
    route: '/apps/{app}/maintenance',
    scope: 'delete',
    touchesApp: true,
    okStatus: 200,
    prepare: async (api, _caller, ctx) => {
      const app = await aliceAppWith(api, ctx, 'resumed', false);
      const on = await api.request('PUT', `/apps/${app}/maintenance`, {
        token: ctx.aliceToken,
        body: {},
      });
      assert.equal(on.status, 200, JSON.stringify(on.body));
      return { path: `/apps/${app}/maintenance` };
    },
  },
  {
    method: 'DELETE',
    route: '/addons/{addon}',
    scope: 'delete',
    touchesApp: true,
    okStatus: 204,
    prepare: async (api, _caller, ctx) => {
      const name = await aliceAddonWith(api, ctx, 'doomed');
      return { path: `/addons/${name}?confirm=${name}` };
    },
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
      // Tasks take long enough that a cancel right after queueing finds them still active.
      api = await startTestServer(backend, { env: { BERTH_TEST_DEPLOY_STEP_DELAY_MS: '100' } });
      const alice = await createUserAndLogin(api, 'alice');
      const bob = await createUserAndLogin(api, 'bob');
      // With a cron entry, so that the cron routes have a schedule to act on.
      const bundle = await tarGzBundle({
        ...nodeApp,
        'app.json': JSON.stringify({
          cron: [{ id: 'tick', command: 'true', schedule: '@yearly' }],
        }),
      });
      const setup = {
        aliceToken: alice,
        aliceApp: '',
        aliceDeployment: '',
        aliceAddon: '',
        aliceBackup: '',
        bundle,
        counter: 0,
      };
      // alice's app has a finished deployment, so every route on it has something to show.
      const aliceApp = await aliceAppWith(api, setup, 'alice-app', true);
      const history = await api.request('GET', `/apps/${aliceApp}/deployments`, { token: alice });
      const aliceDeployment = (history.body as Array<{ id: string }>)[0]?.id ?? '';
      const aliceAddon = await aliceAddonWith(api, setup, 'alice-cache');
      const backedUp = await api.request('POST', `/addons/${aliceAddon}/backups`, { token: alice });
      assert.equal(backedUp.status, 201, JSON.stringify(backedUp.body));
      const aliceBackup = (backedUp.body as { name: string }).name;
      ctx = {
        ...setup,
        aliceApp,
        aliceDeployment,
        aliceAddon,
        aliceBackup,
        counter: setup.counter,
      };
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
          const { path, body, bundle } = await route.prepare(api, caller, ctx);
          const response = await api.request(route.method, path, {
            token: caller.token,
            body,
            ...(bundle ? { raw: { data: bundle, contentType: 'application/gzip' } } : {}),
          });
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
      assert.ok(
        all.some((a) => a.name === ctx.aliceApp) && all.some((a) => a.name === 'carol-app'),
      );
    });
  });
}
