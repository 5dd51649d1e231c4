import { InputError } from '../../../errors/index.js';

/** The Secret holding a release's config vars: a new one per release, so a change rolls pods. */
export function configSecretName(app: string, release: number): string {
  return `${app}-config-v${release}`;
}

/** The Deployment of a process type. */
export function deploymentName(app: string, processType: string): string {
  return `${app}-${processType}`;
}

/** The Secret of an add-on's generated credentials. */
export function addonSecretName(addon: string): string {
  return `${addon}-credentials`;
}

// HOST[:PORT][/PREFIX]: a DNS name or IPv4 address, an optional port, path components as the
// distribution spec allows them (lower case, digits, separators inside).
const REGISTRY_HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Checks a registry reference, `HOST[:PORT][/PREFIX]` (as `--registry` takes it), and returns
 * it without a trailing slash. InputError (INVALID_INPUT) otherwise.
 */
export function parseRegistry(reference: string): string {
  const invalid = (why: string): InputError =>
    new InputError(`registry '${reference.slice(0, 80)}' is not HOST[:PORT][/PREFIX]: ${why}`);
  const trimmed = reference.endsWith('/') ? reference.slice(0, -1) : reference;
  if (trimmed.length === 0 || trimmed.length > 200) throw invalid('empty or too long');
  const [authority = '', ...prefix] = trimmed.split('/');
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!match) throw invalid('bad host or port');
  const [, host = '', port] = match;
  if (!REGISTRY_HOST.test(host)) throw invalid(`bad host '${host.slice(0, 64)}'`);
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw invalid(`bad port ${port}`);
  }
  for (const component of prefix) {
    if (!PATH_COMPONENT.test(component)) throw invalid(`bad path component '${component}'`);
  }
  return trimmed;
}

/** The image of an app's release in a registry: `<registry>/berth/<app>:v<N>`. */
export function imageOf(registry: string, app: string, release: number): string {
  return `${parseRegistry(registry)}/berth/${app}:v${release}`;
}
