import { dirname } from 'node:path';
import { DEFAULT_BASE_PATH } from './runtime-env.js';

/**
 * Variables of the controller's environment a build may see: where programs and the home
 * directory are, the locale, and how to reach a registry. Everything else stays out, above all
 * the controller's secrets (BERTH_MASTER_KEY, BERTH_DATABASE_URL): a build runs the bundle's
 * own scripts and the install scripts of every dependency.
 */
const PASSED_THROUGH = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
]);

/** npm's and pip's own settings (a registry mirror, a cache directory, an index URL). */
const PASSED_THROUGH_PREFIXES = ['npm_config_', 'NPM_CONFIG_', 'PIP_'];

/**
 * Set by npm for the scripts it runs: when the controller itself was started by `npm start`,
 * these name the controller's directory, and a build's npm must not take that as its project.
 */
const NPM_SCRIPT_ONLY = new Set(['npm_config_local_prefix', 'npm_config_global_prefix']);

/**
 * The environment of every build command: the allowed part of the controller's environment,
 * npm's update notice off, then the caller's variables, which win.
 */
export function buildEnv(
  controllerEnv: NodeJS.ProcessEnv,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(controllerEnv)) {
    if (value === undefined || NPM_SCRIPT_ONLY.has(key)) continue;
    if (PASSED_THROUGH.has(key) || PASSED_THROUGH_PREFIXES.some((p) => key.startsWith(p))) {
      env[key] = value;
    }
  }
  // The controller may run from a node that is not on its PATH (a systemd unit naming it by
  // its full path); npm usually sits next to it. Last, so the operator's PATH still wins.
  const nodeDir = dirname(process.execPath);
  const path = env['PATH'] ?? DEFAULT_BASE_PATH;
  env['PATH'] = path.split(':').includes(nodeDir) ? path : `${path}:${nodeDir}`;
  env['npm_config_update_notifier'] = 'false';
  return { ...env, ...extra };
}
