import { readFile } from 'node:fs/promises';

/** The host's CA bundle on Debian and its kin: the roots the host trusts, local ones included. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** The proxy variables every tool reads, in both spellings. */
const PROXY_KEYS = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
] as const;

/** Variables that name a CA file: their files join the CA bundle builds get. */
const CA_FILE_KEYS = new Set([
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'PIP_CERT',
  'REQUESTS_CA_BUNDLE',
  'npm_config_cafile',
  'NPM_CONFIG_CAFILE',
]);

/** npm's user config file and pip's config file: their contents are given to builds. */
const NPMRC_KEYS = new Set(['npm_config_userconfig', 'NPM_CONFIG_USERCONFIG']);
const PIP_CONF_KEY = 'PIP_CONFIG_FILE';

/** Set by npm for the scripts it runs (a controller started by `npm start`): never a setting. */
const NPM_SCRIPT_ONLY = new Set(['npm_config_local_prefix', 'npm_config_global_prefix']);

/**
 * How builds reach package registries, as the operator set it up for this host: proxies, the
 * CAs to trust (a TLS-inspecting proxy's, a private registry's) and npm's and pip's settings.
 * Compiled once at start from the controller's environment and the build env file; files are
 * read then, so a build (running as the app's user, or in a container) gets copies it can read.
 */
export interface BuildNetwork {
  /** Proxy variables and npm_config_* / PIP_* settings that are values, not files. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * PEM text: the host's bundle (SYSTEM_CA_BUNDLE) followed by every CA file named; undefined
   * when nothing at all is set (builds then trust what they would on the host anyway).
   */
  readonly caBundle: string | undefined;
  /** The text of npm's user config (`npm_config_userconfig`), when one was named. */
  readonly npmrc: string | undefined;
  /** The text of pip's config (`PIP_CONFIG_FILE`), when one was named. */
  readonly pipConf: string | undefined;
}

/** No proxy, no CA, no registry settings: what a build on an open network needs. */
export const NO_BUILD_NETWORK: BuildNetwork = Object.freeze({
  env: Object.freeze({}),
  caBundle: undefined,
  npmrc: undefined,
  pipConf: undefined,
});

/** A build env file or a setting it names cannot be used; the message says which and why. */
export class BuildNetworkError extends Error {
  override readonly name = 'BuildNetworkError';
}

export interface LoadBuildNetworkOptions {
  /** The controller's environment (process.env); only the settings above are taken from it. */
  readonly env: NodeJS.ProcessEnv;
  /** A file of KEY=VALUE lines (`--build-env-file`, BERTH_BUILD_ENV_FILE); its values win. */
  readonly file?: string | undefined;
  /** The host's CA bundle; SYSTEM_CA_BUNDLE unless a test names another. */
  readonly systemBundle?: string;
}

/** Whether a variable is one of the build network's settings. */
export function isBuildNetworkKey(key: string): boolean {
  if (NPM_SCRIPT_ONLY.has(key)) return false;
  return (
    (PROXY_KEYS as readonly string[]).includes(key) ||
    CA_FILE_KEYS.has(key) ||
    key === 'SSL_CERT_DIR' ||
    /^(npm_config_|NPM_CONFIG_)[A-Za-z0-9_-]+$/.test(key) ||
    /^PIP_[A-Z0-9_]+$/.test(key)
  );
}

/**
 * Reads the build network of this host: the settings of the controller's environment, then
 * the build env file's over them, then the files they name (CA files, .npmrc, pip.conf).
 * Throws BuildNetworkError for a line or a key the file may not hold and for a named file
 * that cannot be read, so that a server with a broken setup says so at start, not mid-build.
 */
export async function loadBuildNetwork(options: LoadBuildNetworkOptions): Promise<BuildNetwork> {
  const settings: Record<string, string> = {};
  // Started by `npm start`, the controller holds npm's whole configuration as npm_config_*
  // (its cache, prefix, user config under root's home): npm's export for its scripts, not
  // settings for builds. The build env file, or NPM_CONFIG_*, names those.
  const npmExported = options.env['npm_config_user_agent'] !== undefined;
  for (const [key, value] of Object.entries(options.env)) {
    if (value === undefined || value === '' || !isBuildNetworkKey(key)) continue;
    if (npmExported && key.startsWith('npm_config_')) continue;
    settings[key] = value;
  }
  if (options.file !== undefined) Object.assign(settings, await readEnvFile(options.file));

  const env: Record<string, string> = {};
  const caFiles: string[] = [];
  let npmrcFile: string | undefined;
  let pipConfFile: string | undefined;
  for (const [key, value] of Object.entries(settings)) {
    if (CA_FILE_KEYS.has(key)) {
      if (!caFiles.includes(value)) caFiles.push(value);
    } else if (NPMRC_KEYS.has(key)) npmrcFile = value;
    else if (key === PIP_CONF_KEY) pipConfFile = value;
    // A folder of hashed certificates cannot be copied for a build as one file.
    else if (key !== 'SSL_CERT_DIR') env[key] = value;
  }
  const systemBundle = options.systemBundle ?? SYSTEM_CA_BUNDLE;
  const anySetting =
    caFiles.length > 0 ||
    Object.keys(env).length > 0 ||
    npmrcFile !== undefined ||
    pipConfFile !== undefined;
  let caBundle: string | undefined;
  if (anySetting) {
    // The host's roots come along whenever builds are set up for a network of their own: a
    // CA the host trusts through its system store (update-ca-certificates) is the usual way a
    // TLS-inspecting proxy is trusted, and a container's base image knows nothing of it.
    const parts: string[] = [];
    const system = await readFile(systemBundle, 'utf8').catch(() => undefined);
    if (system !== undefined) parts.push(system);
    for (const file of caFiles.filter((f) => f !== systemBundle)) {
      parts.push(await readSetting(file, 'a CA file'));
    }
    if (parts.length > 0) {
      caBundle = parts.map((part) => (part.endsWith('\n') ? part : `${part}\n`)).join('');
    }
  }
  return Object.freeze({
    env: Object.freeze(env),
    caBundle,
    npmrc: npmrcFile === undefined ? undefined : await readSetting(npmrcFile, "npm's config"),
    pipConf: pipConfFile === undefined ? undefined : await readSetting(pipConfFile, "pip's config"),
  });
}

/** Whether builds need anything beyond the defaults. */
export function hasBuildNetwork(network: BuildNetwork): boolean {
  return (
    Object.keys(network.env).length > 0 ||
    network.caBundle !== undefined ||
    network.npmrc !== undefined ||
    network.pipConf !== undefined
  );
}

/** The proxy variables of a build network, for an image build's build args. */
export function proxyVariables(network: BuildNetwork): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of PROXY_KEYS) {
    const value = network.env[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * `KEY=VALUE` lines; blank lines and `#` comments are skipped, a value may be wrapped in
 * quotes. Only build network settings may be set: the file is not a way to give builds the
 * controller's secrets or another PATH.
 */
async function readEnvFile(file: string): Promise<Record<string, string>> {
  const text = await readSetting(file, 'the build env file');
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_-]*)=(.*)$/.exec(line);
    if (!match?.[1]) {
      throw new BuildNetworkError(`${file} line ${index + 1}: expected KEY=VALUE`);
    }
    const key = match[1];
    if (!isBuildNetworkKey(key)) {
      throw new BuildNetworkError(
        `${file} line ${index + 1}: ${key} is not a build network setting (proxy variables, ` +
          'CA files, npm_config_* and PIP_* only)',
      );
    }
    const value = (match[2] ?? '').trim();
    out[key] = /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
  });
  return out;
}

async function readSetting(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new BuildNetworkError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}
