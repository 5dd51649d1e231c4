import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { KubeLabels, addonLabels, type KubeAddonInput } from './model.js';
import { addonSecretName } from './names.js';
import { containerSecurity, podSecurity, scratchVolumes } from './pod-security.js';

/** How each kind's server runs: its port, data path, the paths it writes, its uid. */
const SERVERS = Object.freeze({
  postgres: {
    port: 5432,
    dataPath: '/var/lib/postgresql/data',
    scratch: { tmp: '/tmp', run: '/var/run/postgresql' },
    // The official image's postgres user; its entrypoint initialises PGDATA as that user.
    uid: 999,
    memory: '512Mi',
  },
  redis: {
    port: 6379,
    dataPath: '/data',
    scratch: { tmp: '/tmp' },
    uid: 999,
    memory: '256Mi',
  },
} as const);

/** The port an add-on's server listens on in its pod. */
export function addonPort(addon: Pick<KubeAddonInput, 'kind'>): number {
  return SERVERS[addon.kind].port;
}

function serverContainer(addon: KubeAddonInput): IContainer {
  const server = SERVERS[addon.kind];
  const scratch = scratchVolumes(server.scratch);
  const kindSpecific: Partial<IContainer> =
    addon.kind === 'postgres'
      ? // A subdirectory: a fresh volume's root holds lost+found, which initdb refuses.
        { env: [{ name: 'PGDATA', value: `${server.dataPath}/pgdata` }] }
      : {
          // Kubernetes expands $(VAR) in args from the container's environment.
          args: [
            'redis-server',
            '--dir',
            server.dataPath,
            '--appendonly',
            'yes',
            '--requirepass',
            '$(REDIS_PASSWORD)',
          ],
        };
  return {
    name: addon.kind,
    image: addon.image,
    ...kindSpecific,
    envFrom: [{ secretRef: { name: addonSecretName(addon.name) } }],
    ports: [{ name: addon.kind, containerPort: server.port, protocol: 'TCP' }],
    readinessProbe: { tcpSocket: { port: addon.kind }, periodSeconds: 5 },
    resources: { limits: { memory: server.memory }, requests: { memory: server.memory } },
    securityContext: containerSecurity(),
    volumeMounts: [{ name: 'data', mountPath: server.dataPath }, ...scratch.mounts],
  };
}

/**
 * The add-on's server: one pod with a claim of its own (made once, kept when the StatefulSet
 * or the app goes: only destroying the add-on deletes its data).
 */
export function addonStatefulSetOf(addon: KubeAddonInput): IStatefulSet {
  const labels = addonLabels(addon);
  const server = SERVERS[addon.kind];
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: addon.name, labels },
    spec: {
      serviceName: addon.name,
      replicas: 1,
      selector: { matchLabels: { [KubeLabels.addon]: addon.name } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(server.uid),
          containers: [serverContainer(addon)],
          volumes: scratchVolumes(server.scratch).volumes,
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'data', labels },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    },
  };
}

/** The headless Service that gives the server's pod its stable name, `<addon>-0.<addon>`. */
export function addonServiceOf(addon: KubeAddonInput): IService {
  const port = addonPort(addon);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: addon.name, labels: addonLabels(addon) },
    spec: {
      clusterIP: 'None',
      selector: { [KubeLabels.addon]: addon.name },
      ports: [{ name: addon.kind, port, targetPort: addon.kind, protocol: 'TCP' }],
    },
  };
}

/** The server takes connections only from the pods of the apps attached to it. */
export function addonNetworkPolicyOf(addon: KubeAddonInput): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${addon.name}-ingress`, labels: addonLabels(addon) },
    spec: {
      podSelector: { matchLabels: { [KubeLabels.addon]: addon.name } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              podSelector: {
                matchExpressions: [
                  { key: KubeLabels.app, operator: 'In', values: [...addon.attachedApps].sort() },
                ],
              },
            },
          ],
          ports: [{ port: addonPort(addon), protocol: 'TCP' }],
        },
      ],
    },
  };
}
