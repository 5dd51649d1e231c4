import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BUILD_NETWORK_DIR,
  BuildNetworkFiles,
  buildNetworkFiles,
  hasBuildNetwork,
  proxyVariables,
  type BuildNetwork,
} from '../builder/index.js';
import { BUILD_NETWORK_ENV_FILE, BUILD_NETWORK_MOUNT } from './dockerfile.js';

/** What an image build takes from the host's build network. */
export interface ImageBuildNetwork {
  /** The proxy variables, as build args (Docker's and Podman's predefined ARGs: no history). */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The context folder to mount in a generated Dockerfile's fetching steps, when written. */
  readonly folder: string | undefined;
}

/**
 * Writes the build network into the context at BUILD_NETWORK_DIR: the CA bundle always (it
 * is no secret, and an app's own Dockerfile may `COPY` or mount it), and, for a generated
 * Dockerfile only, npm's and pip's configs and `build.env` (registry variables, and the paths
 * of the files as the mount shows them). An app's own Dockerfile may `COPY . .` whatever the
 * context holds into its image, so a registry token is never put where it could.
 */
export async function writeImageBuildNetwork(
  dir: string,
  network: BuildNetwork | undefined,
  generated: boolean,
): Promise<ImageBuildNetwork> {
  if (network === undefined || !hasBuildNetwork(network)) {
    return { buildArgs: {}, folder: undefined };
  }
  const folder = join(dir, BUILD_NETWORK_DIR);
  await rm(folder, { recursive: true, force: true });
  // Passable and readable by the image's build user (10001), which runs the fetching steps.
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const files = buildNetworkFiles(network);
  const proxies = proxyVariables(network);
  const written: Record<string, string> = {};
  if (network.caBundle !== undefined) written[BuildNetworkFiles.ca] = network.caBundle;
  if (generated) {
    Object.assign(written, files);
    const variables: Record<string, string> = {};
    for (const [key, value] of Object.entries(network.env)) {
      if (!(key in proxies)) variables[key] = value;
    }
    if (network.caBundle !== undefined) {
      const ca = `${BUILD_NETWORK_MOUNT}/${BuildNetworkFiles.ca}`;
      Object.assign(variables, {
        NODE_EXTRA_CA_CERTS: ca,
        SSL_CERT_FILE: ca,
        PIP_CERT: ca,
        REQUESTS_CA_BUNDLE: ca,
        npm_config_cafile: ca,
      });
    }
    if (network.npmrc !== undefined) {
      variables['npm_config_userconfig'] = `${BUILD_NETWORK_MOUNT}/${BuildNetworkFiles.npmrc}`;
    }
    if (network.pipConf !== undefined) {
      variables['PIP_CONFIG_FILE'] = `${BUILD_NETWORK_MOUNT}/${BuildNetworkFiles.pipConf}`;
    }
    written[BUILD_NETWORK_ENV_FILE] = Object.entries(variables)
      .map(([key, value]) => `export ${key}=${shellQuoted(value)}\n`)
      .join('');
  }
  for (const [name, text] of Object.entries(written)) {
    await writeFile(join(folder, name), text, { mode: 0o644 });
  }
  return { buildArgs: proxies, folder: BUILD_NETWORK_DIR };
}

/** A value in single quotes for `sh`; the names are checked settings, never quoted. */
function shellQuoted(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Makes sure the context's `.dockerignore` leaves `.berth` out of `COPY . .`, also when the
 * app brought its own: the settings folder is for the mounted steps only.
 */
export async function ignoreBerthFolder(dir: string): Promise<void> {
  const file = join(dir, '.dockerignore');
  const info = await lstat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) return;
  const text = await readFile(file, 'utf8');
  const listed = text.split(/\r?\n/).some((line) => /^\/?\.berth\/?$/.test(line.trim()));
  if (!listed)
    await writeFile(file, `${text.endsWith('\n') || text === '' ? text : `${text}\n`}.berth\n`);
}
