import type { ISecret } from 'kubernetes-models/v1/Secret';
import { addonLabels, appLabels, type KubeAddonInput, type KubeAppInput } from './model.js';
import { addonSecretName, configSecretName } from './names.js';

/**
 * What a secret value is printed as. Berth never prints config values or generated passwords
 * (there is no `--reveal`): the manifests name the keys, and whoever applies them sets the
 * values (the Kubernetes runtime will, from the sealed release).
 */
export const SECRET_PLACEHOLDER = '<set by berth: not printed>';

/** The comment printed above every Secret. */
export const SECRET_COMMENT =
  ' Values are never printed, and berth kube manifests offers no --reveal: each key holds a\n' +
  ' placeholder. Set the values before applying (kubectl create secret generic NAME\n' +
  " --from-literal=KEY=VALUE ...; berth config shows an app's to those who may read them).";

function placeholders(keys: readonly string[]): Record<string, string> {
  return Object.fromEntries([...keys].sort().map((key) => [key, SECRET_PLACEHOLDER]));
}

/** The release's config vars (its own and its add-ons' URLs), keys only; pods take it whole. */
export function configSecretOf(input: KubeAppInput): ISecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: configSecretName(input.app, input.release), labels: appLabels(input) },
    type: 'Opaque',
    stringData: placeholders(input.configKeys),
  };
}

/** The role and database names an add-on's server is created with (not secret). */
export function addonAccount(addon: KubeAddonInput): Record<string, string> {
  return addon.kind === 'postgres' ? { POSTGRES_USER: 'berth', POSTGRES_DB: addon.name } : {};
}

/** The password variable of an add-on kind's server. */
export function addonPasswordKey(addon: KubeAddonInput): string {
  return addon.kind === 'postgres' ? 'POSTGRES_PASSWORD' : 'REDIS_PASSWORD';
}

/** An add-on's generated credentials: its account names, and a placeholder password. */
export function addonSecretOf(addon: KubeAddonInput): ISecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: addonSecretName(addon.name), labels: addonLabels(addon) },
    type: 'Opaque',
    stringData: { ...addonAccount(addon), ...placeholders([addonPasswordKey(addon)]) },
  };
}
