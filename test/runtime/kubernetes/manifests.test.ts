// The manifests generator: what each object holds, checked against kubernetes-models (k8s 1.27
// schemas) and strictly against the models' declared fields. Pure functions, no cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import {
  generateManifests,
  imageOf,
  manifestsToYaml,
  parseRegistry,
  SECRET_PLACEHOLDER,
} from '../../../src/runtime/kubernetes/index.js';
import {
  containerOf,
  findObject,
  podSpecOf,
  unknownFields,
  validateWithModel,
} from '../../support/kube-models.js';
import { sampleKubeApp as input } from './sample-input.js';

describe('kube manifests: the generator', () => {
  const { objects, notes } = generateManifests(input);
  const deployment = (name: string) => findObject<IDeployment>(objects, 'Deployment', name);

  it('kubernetes-models validation: every generated object passes its kind schema (k8s 1.27)', () => {
    assert.equal(objects.length, 15);
    for (const object of objects) {
      assert.doesNotThrow(
        () => validateWithModel(object),
        `${object.kind} ${object.metadata.name}`,
      );
    }
  });

  it('strict-keys check: no generated object has a field its kind model does not declare', () => {
    for (const object of objects) {
      assert.deepEqual(unknownFields(object), [], `${object.kind} ${object.metadata.name}`);
    }
  });

  it('strict-keys check: a misspelled field, which kubernetes-models accepts, is caught', () => {
    const misspelled = structuredClone(deployment('shop-web')) as IDeployment & {
      spec: { replica?: number };
    };
    Object.assign(containerOf(misspelled), { imagePullPolcy: 'Always' });
    misspelled.spec.replica = 2;
    assert.doesNotThrow(() => validateWithModel(misspelled), 'kubernetes-models lets it pass');
    assert.deepEqual(unknownFields(misspelled).sort(), [
      'Deployment.spec.replica: no such field in IDeploymentSpec',
      'Deployment.spec.template.spec.containers[0].imagePullPolcy: no such field in IContainer',
    ]);
  });

  it('a Deployment per process type: labels, replicas, resources, rolling update, grace', () => {
    const web = deployment('shop-web');
    assert.deepEqual(web.metadata?.labels, {
      'app.kubernetes.io/managed-by': 'berth',
      'berth.app': 'shop',
      'berth.release': 'v7',
      'berth.process': 'web',
    });
    assert.equal(web.spec?.replicas, 3);
    assert.deepEqual(web.spec?.selector.matchLabels, {
      'berth.app': 'shop',
      'berth.process': 'web',
    });
    assert.deepEqual(web.spec?.template.metadata?.labels, web.metadata?.labels);
    assert.deepEqual(web.spec?.strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    assert.equal(podSpecOf(web).terminationGracePeriodSeconds, 12);
    const container = containerOf(web);
    assert.equal(container.image, input.image);
    assert.deepEqual(container.command, ['/bin/sh', '-c', 'node server.js']);
    assert.deepEqual(container.resources, {
      limits: { memory: '256Mi', cpu: '500m' },
      requests: { memory: '256Mi', cpu: '500m' },
    });
    assert.deepEqual(container.envFrom, [{ secretRef: { name: 'shop-config-v7' } }]);
    assert.ok(container.env?.some((e) => e.name === 'PORT' && e.value === '8080'));

    const worker = containerOf(deployment('shop-worker'));
    assert.equal(worker.command, undefined, "the image's own CMD");
    assert.equal(worker.resources, undefined, "no size: the cluster's defaults");
    assert.equal(worker.ports, undefined);
    assert.equal(worker.readinessProbe, undefined, 'only web has probes');

    const clock = deployment('shop-clock');
    assert.equal(clock.spec?.replicas, 0);
    assert.deepEqual(containerOf(clock).resources?.limits, { memory: '300000001', cpu: '2000m' });
  });

  it('web probes come from the health check; without one, from a listening port', () => {
    const container = containerOf(deployment('shop-web'));
    assert.deepEqual(container.readinessProbe, {
      httpGet: { path: '/health', port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 4,
      failureThreshold: 5,
    });
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/health', port: 'http' });
    const bare = generateManifests({ ...input, healthcheck: undefined });
    const plain = containerOf(findObject<IDeployment>(bare.objects, 'Deployment', 'shop-web'));
    assert.deepEqual(plain.readinessProbe?.tcpSocket, { port: 'http' });
    assert.deepEqual(plain.livenessProbe?.tcpSocket, { port: 'http' });
  });

  it('pods run as non-root, without privilege escalation, on a read-only root with /tmp', () => {
    for (const name of ['shop-web', 'shop-worker']) {
      const pod = podSpecOf(deployment(name));
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.ok((pod.securityContext?.runAsUser ?? 0) > 0);
      assert.equal(pod.automountServiceAccountToken, false);
      const container = containerOf(deployment(name));
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'] });
      assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
      assert.deepEqual(pod.volumes, [{ name: 'tmp', emptyDir: {} }]);
    }
  });

  it('a Service and an Ingress for web, at <app>.<domain>', () => {
    const service = findObject<IService>(objects, 'Service', 'shop');
    assert.deepEqual(service.spec?.selector, { 'berth.app': 'shop', 'berth.process': 'web' });
    assert.deepEqual(service.spec?.ports, [
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    ]);
    const ingress = findObject<IIngress>(objects, 'Ingress', 'shop');
    const [rule] = ingress.spec?.rules ?? [];
    assert.equal(rule?.host, 'shop.example.com');
    assert.deepEqual(rule?.http?.paths[0]?.backend, {
      service: { name: 'shop', port: { name: 'http' } },
    });
    assert.equal(ingress.spec?.ingressClassName, undefined, "the cluster's default class");
    const classed = generateManifests({ ...input, ingressClassName: 'nginx' });
    const classedIngress = findObject<IIngress>(classed.objects, 'Ingress', 'shop');
    assert.equal(classedIngress.spec?.ingressClassName, 'nginx');
  });

  it('the config Secret holds every key with a placeholder, never a value', () => {
    const secret = findObject<ISecret>(objects, 'Secret', 'shop-config-v7');
    assert.deepEqual(secret.stringData, {
      CACHE_URL: SECRET_PLACEHOLDER,
      DATABASE_URL: SECRET_PLACEHOLDER,
      GREETING: SECRET_PLACEHOLDER,
    });
    assert.equal(secret.data, undefined);
    for (const name of ['shop-db-credentials', 'cache-credentials']) {
      const credentials = findObject<ISecret>(objects, 'Secret', name).stringData ?? {};
      const password = credentials['POSTGRES_PASSWORD'] ?? credentials['REDIS_PASSWORD'];
      assert.equal(password, SECRET_PLACEHOLDER, `${name}: no generated password is printed`);
    }
  });

  it('per add-on: a StatefulSet with a claim template, a headless Service, its credentials', () => {
    const db = findObject<IStatefulSet>(objects, 'StatefulSet', 'shop-db');
    assert.equal(db.spec?.serviceName, 'shop-db');
    assert.equal(db.spec?.replicas, 1);
    assert.deepEqual(db.spec?.volumeClaimTemplates?.[0]?.spec?.accessModes, ['ReadWriteOnce']);
    assert.deepEqual(db.spec?.persistentVolumeClaimRetentionPolicy, {
      whenDeleted: 'Retain',
      whenScaled: 'Retain',
    });
    const container = containerOf(db);
    assert.equal(container.image, 'docker.io/library/postgres:16');
    assert.deepEqual(container.envFrom, [{ secretRef: { name: 'shop-db-credentials' } }]);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(podSpecOf(db).securityContext?.runAsNonRoot, true);
    const service = findObject<IService>(objects, 'Service', 'shop-db');
    assert.equal(service.spec?.clusterIP, 'None');
    assert.equal(service.spec?.ports?.[0]?.port, 5432);
    const cache = findObject<IStatefulSet>(objects, 'StatefulSet', 'cache');
    assert.ok(containerOf(cache).args?.includes('$(REDIS_PASSWORD)'));
    assert.equal(findObject<IService>(objects, 'Service', 'cache').spec?.ports?.[0]?.port, 6379);
  });

  it('NetworkPolicies: app pods from the ingress controller and the app; add-ons from attached apps', () => {
    const app = findObject<INetworkPolicy>(objects, 'NetworkPolicy', 'shop-ingress');
    assert.deepEqual(app.spec?.podSelector, { matchLabels: { 'berth.app': 'shop' } });
    assert.deepEqual(app.spec?.policyTypes, ['Ingress']);
    assert.deepEqual(app.spec?.ingress, [
      {
        from: [
          {
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' },
            },
          },
          { podSelector: { matchLabels: { 'berth.app': 'shop' } } },
        ],
      },
    ]);
    const db = findObject<INetworkPolicy>(objects, 'NetworkPolicy', 'shop-db-ingress');
    assert.deepEqual(db.spec?.podSelector, { matchLabels: { 'berth.addon': 'shop-db' } });
    assert.deepEqual(db.spec?.ingress, [
      {
        from: [
          {
            podSelector: {
              matchExpressions: [{ key: 'berth.app', operator: 'In', values: ['admin', 'shop'] }],
            },
          },
        ],
        ports: [{ port: 5432, protocol: 'TCP' }],
      },
    ]);
  });

  it('a static web, or web at 0, has no Service or Ingress, and says why', () => {
    const zero = generateManifests({
      ...input,
      processes: input.processes.map((p) => (p.type === 'web' ? { ...p, count: 0 } : p)),
    });
    assert.ok(
      !zero.objects.some(
        (o) => o.kind === 'Ingress' || (o.kind === 'Service' && o.metadata.name === 'shop'),
      ),
    );
    assert.match(zero.notes.join('\n'), /web runs 0 pods/);
    const site = generateManifests({
      ...input,
      processes: [
        { type: 'web', command: { kind: 'static' }, count: 1, memoryBytes: null, cpu: null },
      ],
      addons: [],
    });
    assert.deepEqual(
      site.objects.map((o) => o.kind),
      ['Secret', 'NetworkPolicy'],
    );
    assert.match(site.notes.join('\n'), /static site/);
    assert.deepEqual(notes, []);
  });

  it('YAML: one document per object, parsing back to the same objects; a comment over Secrets', () => {
    const text = manifestsToYaml({ objects, notes }, { app: 'shop', release: 7 });
    const documents = parseAllDocuments(text);
    assert.ok(Array.isArray(documents));
    assert.deepEqual(
      documents.map((d) => d.toJS() as unknown),
      JSON.parse(JSON.stringify(objects)),
    );
    assert.doesNotMatch(text, /&a\d|\*a\d/, 'no YAML anchors or aliases');
    assert.match(text, /# Values are never printed, and berth kube manifests offers no --reveal/);
  });

  it('registry references: HOST[:PORT][/PREFIX] is accepted, anything else refused', () => {
    for (const good of [
      '127.0.0.1:5000',
      'registry.example.com',
      'reg.io:443/team/sub',
      'localhost/',
    ]) {
      assert.doesNotThrow(() => parseRegistry(good), good);
    }
    for (const bad of [
      '',
      'HTTP://x',
      'reg.io:99999',
      'reg io',
      'reg.io/Team',
      'reg.io//x',
      '-x.io',
      'a:b:c',
    ]) {
      assert.throws(
        () => parseRegistry(bad),
        { code: 'INVALID_INPUT', message: /is not HOST\[:PORT\]\[\/PREFIX\]/ },
        bad,
      );
    }
    assert.equal(imageOf('reg.io:5000/team/', 'shop', 3), 'reg.io:5000/team/berth/shop:v3');
  });
});
