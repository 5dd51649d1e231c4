// A release of a three-process app with two add-ons, for the kubectl and Podman tests.
import type { KubeAppInput } from '../../../src/runtime/kubernetes/index.js';

export const sampleKubeApp: KubeAppInput = {
  app: 'shop',
  release: 7,
  image: 'registry.example.com:5000/team/berth/shop:v7',
  processes: [
    {
      type: 'web',
      command: { kind: 'command', line: 'node server.js' },
      count: 3,
      memoryBytes: 256 * 1024 * 1024,
      cpu: 0.5,
    },
    { type: 'worker', command: { kind: 'image' }, count: 1, memoryBytes: null, cpu: null },
    {
      type: 'clock',
      command: { kind: 'command', line: 'node clock.js' },
      count: 0,
      memoryBytes: 300_000_001,
      cpu: 2,
    },
  ],
  healthcheck: { path: '/health', timeoutSeconds: 4, attempts: 5 },
  configKeys: ['GREETING', 'DATABASE_URL', 'CACHE_URL'],
  addons: [
    {
      kind: 'postgres',
      name: 'shop-db',
      image: 'docker.io/library/postgres:16',
      attachedApps: ['shop', 'admin'],
    },
    { kind: 'redis', name: 'cache', image: 'docker.io/library/redis:7', attachedApps: ['shop'] },
  ],
  host: 'shop.example.com',
  stopGraceSeconds: 12,
  ingressNamespace: 'ingress-nginx',
};
