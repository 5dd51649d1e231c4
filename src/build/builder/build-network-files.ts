import { join } from 'node:path';
import type { BuildNetwork } from './build-network.js';
import { runCommand, type CommandContext } from './run-command.js';

/** Where a build's copies of the CA bundle, .npmrc and pip.conf are, inside the slug. */
export const BUILD_NETWORK_DIR = '.berth/build-network';

/** The file names in BUILD_NETWORK_DIR. */
export const BuildNetworkFiles = Object.freeze({
  ca: 'ca-certificates.crt',
  npmrc: 'npmrc',
  pipConf: 'pip.conf',
} as const);

/** Writes (or, with no files, removes) the folder; run as the build's own user. */
const WRITER = `
const fs = require('node:fs');
const path = require('node:path');
const { dir, files } = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.rmSync(dir, { recursive: true, force: true });
if (files) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), text, { mode: 0o600, flag: 'wx' });
  }
}
`;

/** The files a build network gives builds, by name; empty when it gives none. */
export function buildNetworkFiles(network: BuildNetwork): Record<string, string> {
  const files: Record<string, string> = {};
  if (network.caBundle !== undefined) files[BuildNetworkFiles.ca] = network.caBundle;
  if (network.npmrc !== undefined) files[BuildNetworkFiles.npmrc] = network.npmrc;
  if (network.pipConf !== undefined) files[BuildNetworkFiles.pipConf] = network.pipConf;
  return files;
}

/**
 * The variables that point a build's tools at the copies in `dir`: Node's, npm's, OpenSSL's
 * and pip's CA bundle (all the same bundle: the host's roots and the CAs named), npm's user
 * config, pip's config file.
 */
export function buildNetworkFileEnv(network: BuildNetwork, dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (network.caBundle !== undefined) {
    const ca = join(dir, BuildNetworkFiles.ca);
    env['NODE_EXTRA_CA_CERTS'] = ca;
    env['SSL_CERT_FILE'] = ca;
    env['PIP_CERT'] = ca;
    env['REQUESTS_CA_BUNDLE'] = ca;
    // npm's own `cafile` replaces Node's roots, extra ones too, and a host's global npmrc may
    // set it (Debian's names the system bundle): the bundle holds those roots as well.
    env['npm_config_cafile'] = ca;
  }
  if (network.npmrc !== undefined)
    env['npm_config_userconfig'] = join(dir, BuildNetworkFiles.npmrc);
  if (network.pipConf !== undefined) env['PIP_CONFIG_FILE'] = join(dir, BuildNetworkFiles.pipConf);
  return env;
}

/**
 * Puts the build network's files in `dir` as the build's own user (through the jail's wrap),
 * so that a build running as the app's uid can read them, and the controller never writes
 * into a folder the app's processes could swap for a link. `files` null removes the folder.
 */
export async function placeBuildNetworkFiles(
  dir: string,
  files: Readonly<Record<string, string>> | null,
  context: Omit<CommandContext, 'log' | 'input'>,
): Promise<void> {
  await runCommand(
    { name: 'build network settings', argv: [process.execPath, '-e', WRITER] },
    {
      ...context,
      // The contents travel through stdin, never in the argument vector (which everyone can
      // read) nor the environment (a CA bundle is larger than one variable may be).
      input: JSON.stringify({ dir, files }),
      log: () => undefined,
    },
  );
}
