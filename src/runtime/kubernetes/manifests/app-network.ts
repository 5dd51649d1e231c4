import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IService } from 'kubernetes-models/v1/Service';
import { KubeLabels, appLabels, type KubeAppInput } from './model.js';

/** The Service of the app's web pods, named after the app; port 80 to the pods' `http`. */
export function webServiceOf(input: KubeAppInput): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: input.app, labels: appLabels(input) },
    spec: {
      type: 'ClusterIP',
      selector: { [KubeLabels.app]: input.app, [KubeLabels.process]: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** The Ingress of the app's host, `<app>.<domain>`, to its web Service. */
export function ingressOf(input: KubeAppInput): IIngress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: input.app, labels: appLabels(input) },
    spec: {
      ...(input.ingressClassName ? { ingressClassName: input.ingressClassName } : {}),
      rules: [
        {
          host: input.host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: input.app, port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/**
 * The app's pods take traffic from the ingress controller's namespace and from the app's own
 * pods, nothing else; egress is left open (add-ons, the internet), as on the other runtimes.
 */
export function appNetworkPolicyOf(input: KubeAppInput): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${input.app}-ingress`, labels: appLabels(input) },
    spec: {
      podSelector: { matchLabels: { [KubeLabels.app]: input.app } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': input.ingressNamespace },
              },
            },
            { podSelector: { matchLabels: { [KubeLabels.app]: input.app } } },
          ],
        },
      ],
    },
  };
}
