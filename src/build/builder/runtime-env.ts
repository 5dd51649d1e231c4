import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Stacks, type Stack } from '../project/index.js';
import { VENV_DIR } from './build-plan.js';

/** The PATH runtimeEnv starts from when the caller gives none. */
export const DEFAULT_BASE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The variables every unit of a built slug needs, whatever its command: PATH with the slug's
 * `node_modules/.bin` and `.venv/bin` in front (only those that exist), so `next start` or
 * `gunicorn app:app` in a Procfile finds the slug's own programs as `npm run` and an activated
 * venv would; VIRTUAL_ENV when there is a venv; NODE_ENV=production for node slugs (frameworks
 * switch off development modes on it); PYTHONUNBUFFERED for python slugs, whose output would
 * otherwise sit in a block buffer instead of reaching the logs.
 */
export function runtimeEnv(
  dir: string,
  stack: Stack,
  basePath: string = DEFAULT_BASE_PATH,
): Record<string, string> {
  const env: Record<string, string> = {};
  const front: string[] = [];
  const nodeBin = join(dir, 'node_modules', '.bin');
  if (existsSync(nodeBin)) front.push(nodeBin);
  const venv = join(dir, VENV_DIR);
  if (existsSync(join(venv, 'bin'))) {
    front.push(join(venv, 'bin'));
    env['VIRTUAL_ENV'] = venv;
  }
  env['PATH'] = [...front, ...(basePath === '' ? [] : [basePath])].join(':');
  if (stack === Stacks.node) env['NODE_ENV'] = 'production';
  if (stack === Stacks.python) env['PYTHONUNBUFFERED'] = '1';
  return env;
}
