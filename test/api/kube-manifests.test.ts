// GET /apps/{app}/kube-manifests on a process-runtime controller: the objects of a real
// release (its processes, formation, health check, config keys and add-on), YAML or JSON,
// never a secret value; and each kind of bad input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { parseAllDocuments } from 'yaml';
import {
  createUserAndLogin,
  errorCode,
  startTestServer,
  tokenWithScopes,
  type TestServer,
} from '../support/api.js';
import { nodeApp } from '../support/bundles.js';
import type { KubeObject } from '../../src/runtime/kubernetes/index.js';
import {
  containerOf,
  findObject,
  podSpecOf,
  unknownFields,
  validateWithModel,
} from '../support/kube-models.js';
import { deploy } from '../support/platform.js';

const SECRET_VALUE = 's3cret-value-that-is-never-printed';

describe('GET /apps/{app}/kube-manifests (process runtime, SQLite)', () => {
  let api: TestServer;
  let alice: string;
  let latest = 0;
  let redisPassword = '';

  before(async () => {
    api = await startTestServer('sqlite');
    alice = await createUserAndLogin(api, 'alice');
    for (const name of ['shop', 'empty']) {
      const created = await api.request('POST', '/apps', { token: alice, body: { name } });
      assert.equal(created.status, 201);
    }
    const config = await api.request('PATCH', '/apps/shop/config', {
      token: alice,
      body: { API_TOKEN: SECRET_VALUE },
    });
    assert.equal(config.status, 200, JSON.stringify(config.body));
    const first = await deploy(api, alice, 'shop', nodeApp);
    assert.equal(first.status, 'succeeded', first.details.error ?? '');
    const addon = await api.request('POST', '/addons', {
      token: alice,
      body: { kind: 'redis', app: 'shop' },
    });
    assert.equal(addon.status, 201, JSON.stringify(addon.body));
    latest = (addon.body as { release: number }).release;
    const revealed = await api.request('GET', '/addons/shop-redis?reveal=true', { token: alice });
    redisPassword = decodeURIComponent(new URL((revealed.body as { url: string }).url).password);
    assert.ok(redisPassword.length >= 16);
    const scaled = await api.request('PATCH', '/apps/shop/formation', {
      token: alice,
      body: { web: { count: 2, memory: '256M', cpu: 0.5 } },
    });
    assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
  });

  after(() => api?.close());

  const get = (path: string, token = alice) => api.request('GET', path, { token });

  it('200: YAML of the newest release: Deployments, Service, Ingress, Secret, add-on, policies', async () => {
    const response = await get('/apps/shop/kube-manifests');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/yaml/);
    const text = response.body as string;
    const documents = parseAllDocuments(text);
    assert.ok(Array.isArray(documents));
    const objects = documents.map((d) => d.toJS() as KubeObject);
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'Secret/shop-redis-credentials',
        'Service/shop-redis',
        'StatefulSet/shop-redis',
        'NetworkPolicy/shop-redis-ingress',
        `Secret/shop-config-v${latest}`,
        'Deployment/shop-web',
        'Deployment/shop-worker',
        'Service/shop',
        'Ingress/shop',
        'NetworkPolicy/shop-ingress',
      ],
    );
    for (const object of objects) {
      validateWithModel(object);
      assert.deepEqual(unknownFields(object), [], `${object.kind} ${object.metadata.name}`);
    }
    const web = findObject<IDeployment>(objects, 'Deployment', 'shop-web');
    assert.equal(web.metadata?.labels?.['berth.release'], `v${latest}`);
    assert.equal(web.spec?.replicas, 2);
    const container = containerOf(web);
    assert.equal(container.image, `127.0.0.1:5000/berth/shop:v${latest}`);
    assert.deepEqual(container.command, ['/bin/sh', '-c', 'node server.js']);
    assert.deepEqual(container.resources?.limits, { memory: '256Mi', cpu: '500m' });
    // berth.json's health check, read from the release's build.
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/', port: 'http' });
    assert.equal(container.readinessProbe?.timeoutSeconds, 5);
    assert.equal(podSpecOf(web).terminationGracePeriodSeconds, 10);
    const ingress = findObject<IIngress>(objects, 'Ingress', 'shop');
    assert.equal(ingress.spec?.rules?.[0]?.host, 'shop.localhost');
    const secret = findObject<ISecret>(objects, 'Secret', `shop-config-v${latest}`);
    assert.deepEqual(Object.keys(secret.stringData ?? {}).sort(), ['API_TOKEN', 'REDIS_URL']);
    const policy = findObject<INetworkPolicy>(objects, 'NetworkPolicy', 'shop-redis-ingress');
    const [peer] = policy.spec?.ingress?.[0]?.from ?? [];
    assert.deepEqual(peer?.podSelector?.matchExpressions?.[0]?.values, ['shop']);
    const redis = findObject<IStatefulSet>(objects, 'StatefulSet', 'shop-redis');
    assert.equal(containerOf(redis).image, 'docker.io/library/redis:7');
  });

  it('never prints a config value or an add-on password, in YAML or JSON', async () => {
    for (const path of ['/apps/shop/kube-manifests', '/apps/shop/kube-manifests?format=json']) {
      const response = await get(path);
      assert.equal(response.status, 200);
      const text =
        typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
      assert.ok(!text.includes(SECRET_VALUE), `${path}: no config value`);
      assert.ok(!text.includes(redisPassword), `${path}: no add-on password`);
    }
  });

  it('200: ?format=json&release=v1&registry=REF: that release, its image in that registry', async () => {
    const response = await get(
      '/apps/shop/kube-manifests?format=json&release=v1&registry=registry.example.com:5000/team',
    );
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = response.body as { release: number; image: string; objects: KubeObject[] };
    assert.equal(body.release, 1);
    assert.equal(body.image, 'registry.example.com:5000/team/berth/shop:v1');
    const secret = findObject<ISecret>(body.objects, 'Secret', 'shop-config-v1');
    assert.deepEqual(Object.keys(secret.stringData ?? {}).sort(), ['API_TOKEN']);
  });

  it('404: an unknown app', async () => {
    const response = await get('/apps/nosuch/kube-manifests');
    assert.equal(response.status, 404);
    assert.equal(errorCode(response), 'APP_NOT_FOUND');
  });

  it('404: an unknown release, and an app with no release yet', async () => {
    const unknown = await get('/apps/shop/kube-manifests?release=99');
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'RELEASE_NOT_FOUND');
    assert.match(JSON.stringify(unknown.body), /no release v99/);
    const none = await get('/apps/empty/kube-manifests');
    assert.equal(none.status, 404);
    assert.equal(errorCode(none), 'RELEASE_NOT_FOUND');
  });

  it('400: a bad registry reference, a bad format or release', async () => {
    for (const registry of ['Not A Registry', 'reg.io:99999', 'reg.io/UPPER', 'http://reg.io']) {
      const response = await get(
        `/apps/shop/kube-manifests?registry=${encodeURIComponent(registry)}`,
      );
      assert.equal(response.status, 400, registry);
      assert.equal(errorCode(response), 'INVALID_INPUT', registry);
      assert.match(JSON.stringify(response.body), /is not HOST\[:PORT\]\[\/PREFIX\]/, registry);
    }
    assert.equal((await get('/apps/shop/kube-manifests?format=xml')).status, 400);
    assert.equal((await get('/apps/shop/kube-manifests?release=0')).status, 400);
    assert.equal((await get('/apps/shop/kube-manifests?colour=blue')).status, 400);
  });

  it('403: a token without the read scope, and a user without access to the app', async () => {
    const writeOnly = await tokenWithScopes(api, alice, ['write']);
    const scoped = await get('/apps/shop/kube-manifests', writeOnly);
    assert.equal(scoped.status, 403);
    assert.equal(errorCode(scoped), 'SCOPE_REQUIRED');
    const bob = await createUserAndLogin(api, 'bob');
    const stranger = await get('/apps/shop/kube-manifests', bob);
    assert.equal(stranger.status, 403);
    assert.equal(errorCode(stranger), 'ACCESS_DENIED');
    assert.equal((await api.request('GET', '/apps/shop/kube-manifests')).status, 401);
  });
});
