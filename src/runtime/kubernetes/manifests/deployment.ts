import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import {
  APP_PORT,
  KubeLabels,
  appLabels,
  type KubeAppInput,
  type KubeHealthcheckInput,
  type KubeProcessInput,
} from './model.js';
import { configSecretName, deploymentName } from './names.js';
import { APP_UID, containerSecurity, podSecurity, scratchVolumes } from './pod-security.js';

const WEB = 'web';

/** A memory limit as a Kubernetes quantity: `256Mi` where it divides, else bytes. */
export function memoryQuantity(bytes: number): string {
  const mebi = 1024 * 1024;
  return bytes % mebi === 0 ? `${bytes / mebi}Mi` : String(bytes);
}

/** CPUs as a Kubernetes quantity in millicores: 0.5 → `500m`. */
export function cpuQuantity(cpus: number): string {
  return `${Math.max(1, Math.round(cpus * 1000))}m`;
}

/** Requests equal to limits: the formation's size is what the pod gets, as on the engine. */
function resourcesOf(process: KubeProcessInput): IResourceRequirements | undefined {
  const amounts: Record<string, string> = {};
  if (process.memoryBytes !== null) amounts['memory'] = memoryQuantity(process.memoryBytes);
  if (process.cpu !== null) amounts['cpu'] = cpuQuantity(process.cpu);
  if (Object.keys(amounts).length === 0) return undefined;
  return { limits: { ...amounts }, requests: { ...amounts } };
}

/**
 * Readiness gates traffic as the rollout's check does: the health check path when the release
 * has one, else a listening PORT. Liveness restarts a pod that stopped answering, with more
 * patience than readiness so that a slow moment is not a restart.
 */
function probesOf(
  check: KubeHealthcheckInput | undefined,
): Pick<IContainer, 'readinessProbe' | 'livenessProbe'> {
  const action: Pick<IProbe, 'httpGet' | 'tcpSocket'> = check
    ? { httpGet: { path: check.path, port: 'http' } }
    : { tcpSocket: { port: 'http' } };
  const timeoutSeconds = check?.timeoutSeconds ?? 1;
  return {
    readinessProbe: {
      ...action,
      periodSeconds: 5,
      timeoutSeconds,
      failureThreshold: check?.attempts ?? 3,
    },
    livenessProbe: {
      ...action,
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds,
      failureThreshold: 6,
    },
  };
}

/** The container's command: a shell line through sh, or the image's own CMD. */
function commandOf(process: KubeProcessInput): Pick<IContainer, 'command'> {
  return process.command.kind === 'command'
    ? { command: ['/bin/sh', '-c', process.command.line] }
    : {};
}

/**
 * The Deployment of one process type of the release (not of a static site, which has no
 * pods). Its selector names the app and process type only, so a new release rolls the same
 * Deployment; pods carry the release too.
 */
export function deploymentOf(input: KubeAppInput, process: KubeProcessInput): IDeployment {
  const labels = { ...appLabels(input), [KubeLabels.process]: process.type };
  const selector = { [KubeLabels.app]: input.app, [KubeLabels.process]: process.type };
  const web = process.type === WEB;
  // HOME on /tmp: npm and most runtimes write a cache or a log under HOME at start.
  const scratch = scratchVolumes({ tmp: '/tmp' });
  const resources = resourcesOf(process);
  const container: IContainer = {
    name: process.type,
    image: input.image,
    ...commandOf(process),
    env: [
      { name: 'PORT', value: String(APP_PORT) },
      { name: 'HOME', value: '/tmp' },
      { name: 'BERTH_APP', value: input.app },
      { name: 'BERTH_RELEASE', value: String(input.release) },
      { name: 'BERTH_PROCESS_TYPE', value: process.type },
    ],
    envFrom: [{ secretRef: { name: configSecretName(input.app, input.release) } }],
    ...(web ? { ports: [{ name: 'http', containerPort: APP_PORT, protocol: 'TCP' }] } : {}),
    ...(web ? probesOf(input.healthcheck) : {}),
    ...(resources ? { resources } : {}),
    securityContext: containerSecurity(),
    volumeMounts: scratch.mounts,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName(input.app, process.type), labels },
    spec: {
      replicas: process.count,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      revisionHistoryLimit: 5,
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: input.stopGraceSeconds,
          securityContext: podSecurity(APP_UID),
          containers: [container],
          volumes: scratch.volumes,
        },
      },
    },
  };
}
