import { addonNetworkPolicyOf, addonServiceOf, addonStatefulSetOf } from './addon-objects.js';
import { appNetworkPolicyOf, ingressOf, webServiceOf } from './app-network.js';
import { deploymentOf } from './deployment.js';
import type { KubeAppInput, KubeManifests, KubeObject } from './model.js';
import { addonSecretOf, configSecretOf } from './secrets.js';

/**
 * Every object of an app's release, in apply order: the add-ons' (Secret, Service,
 * StatefulSet, NetworkPolicy), then the app's config Secret, Deployments, web Service and
 * Ingress, and its NetworkPolicy. Pure: the same input gives the same objects.
 */
export function generateManifests(input: KubeAppInput): KubeManifests {
  const objects: object[] = [];
  const notes: string[] = [];
  for (const addon of input.addons) {
    objects.push(
      addonSecretOf(addon),
      addonServiceOf(addon),
      addonStatefulSetOf(addon),
      addonNetworkPolicyOf(addon),
    );
  }
  objects.push(configSecretOf(input));
  let web = false;
  for (const process of input.processes) {
    if (process.command.kind === 'static') {
      notes.push(
        `${process.type} is a static site, which Berth's router serves from the build; ` +
          'it has no Kubernetes object yet',
      );
      continue;
    }
    objects.push(deploymentOf(input, process));
    if (process.type === 'web') web = process.count > 0;
    if (process.type === 'web' && process.count === 0) {
      notes.push('web runs 0 pods: the app takes no traffic, so it has no Service or Ingress');
    }
  }
  if (web) objects.push(webServiceOf(input), ingressOf(input));
  objects.push(appNetworkPolicyOf(input));
  return { objects: objects as KubeObject[], notes };
}
