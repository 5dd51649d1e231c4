import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { jsonPath } from './json-shape.js';
import type { DeployScripts } from './model.js';
import { MAX_COMMAND_LENGTH } from './process-rules.js';

// eslint-disable-next-line no-control-regex -- tabs are fine in a command; other controls are not
const CONTROL_EXCEPT_TAB = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** How the caller reports fields it does not know (app.json's warning line). */
export interface ScriptsWarnings {
  unknown(object: Record<string, unknown>, known: readonly string[], at: readonly string[]): void;
}

function schemaError(message: string): BundleError {
  return new BundleError(BundleErrorReasons.APP_JSON_SCHEMA, `app.json: ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function objectAt(value: unknown, at: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw schemaError(`${jsonPath(at)} must be an object; got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A script's command: a string, checked as a Procfile command is; empty says nothing. */
function command(value: unknown, at: readonly string[]): string | undefined {
  if (typeof value !== 'string') {
    throw schemaError(`${jsonPath(at)} must be a string; got ${describe(value)}`);
  }
  if (value.length > MAX_COMMAND_LENGTH) {
    throw schemaError(
      `${jsonPath(at)} has ${value.length} characters; at most ${MAX_COMMAND_LENGTH} are allowed`,
    );
  }
  if (CONTROL_EXCEPT_TAB.test(value)) {
    throw schemaError(`${jsonPath(at)} must not contain a line break or control character`);
  }
  return value.trim() === '' ? undefined : value;
}

/**
 * Parses app.json's `scripts`: Heroku's `postdeploy` (a command, or `{command, size}` whose
 * size is not read) and Dokku's `dokku.predeploy` / `dokku.postdeploy`. Heroku CI's and review
 * apps' scripts (`test`, `test-setup`, `pr-predestroy`) are unknown fields to Berth. Throws
 * BundleError APP_JSON_SCHEMA naming the JSON path of a wrong type.
 */
export function parseScripts(value: unknown, warnings: ScriptsWarnings): DeployScripts {
  const scripts = objectAt(value, ['scripts']);
  warnings.unknown(scripts, ['postdeploy', 'dokku'], ['scripts']);
  let postdeploy: string | undefined;
  const heroku = scripts['postdeploy'];
  if (typeof heroku === 'object' && heroku !== null && !Array.isArray(heroku)) {
    const at = ['scripts', 'postdeploy'];
    const spec = heroku as Record<string, unknown>;
    warnings.unknown(spec, ['command'], at);
    if (spec['command'] === undefined) throw schemaError(`${jsonPath(at)}.command is required`);
    postdeploy = command(spec['command'], [...at, 'command']);
  } else if (heroku !== undefined) {
    postdeploy = command(heroku, ['scripts', 'postdeploy']);
  }
  let predeploy: string | undefined;
  let dokkuPostdeploy: string | undefined;
  if (scripts['dokku'] !== undefined) {
    const dokku = objectAt(scripts['dokku'], ['scripts', 'dokku']);
    warnings.unknown(dokku, ['predeploy', 'postdeploy'], ['scripts', 'dokku']);
    if (dokku['predeploy'] !== undefined)
      predeploy = command(dokku['predeploy'], ['scripts', 'dokku', 'predeploy']);
    if (dokku['postdeploy'] !== undefined)
      dokkuPostdeploy = command(dokku['postdeploy'], ['scripts', 'dokku', 'postdeploy']);
  }
  return {
    ...(postdeploy !== undefined ? { firstPostdeploy: postdeploy } : {}),
    ...(predeploy !== undefined ? { predeploy } : {}),
    ...(dokkuPostdeploy !== undefined ? { postdeploy: dokkuPostdeploy } : {}),
  };
}
