import { CONFIG_KEY_PATTERN, isPlatformKey, refusedKeyRule } from '../../domain/config/index.js';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';
import { parseScripts } from './app-json-scripts.js';
import { parseCron } from './cron.js';
import { heroku } from './heroku-names.js';
import { locateJsonSyntaxError } from './json-syntax.js';
import { jsonPath, nestingTooDeep } from './json-shape.js';
import {
  ADDON_ALIAS_PATTERN,
  type Addon,
  type CronEntry,
  type DeployScripts,
  type ProjectMetadata,
} from './model.js';

/** app.json may be at most this large (128 KiB): Heroku's files carry prose berth.json lacks. */
export const APP_JSON_MAX_BYTES = 128 * 1024;

/** Deeper than this is no manifest (Heroku's deepest field, `environments`, needs about 6). */
export const APP_JSON_MAX_DEPTH = 32;

const LIMITS = Object.freeze({
  name: 200,
  description: 10_000,
  keywords: 100,
  keyword: 100,
  repository: 2048,
  env: 500,
  envDescription: 2000,
  envValueBytes: 32 * 1024,
  formation: 50,
  addons: 20,
  /** Unknown field names listed in the warning line; the rest are counted. */
  listedUnknown: 10,
});

/** The fields of app.json this slice applies. */
const APPLIED = [
  'name',
  'description',
  'keywords',
  'repository',
  'env',
  'formation',
  'addons',
  'cron',
  'scripts',
];
/** Fields Heroku and Dokku give meaning that Berth will apply in a later version. */
const NOT_YET = ['healthchecks'];
/** Heroku's own fields that mean nothing on Berth, and why. */
const IGNORED: Readonly<Record<string, string>> = Object.freeze({
  website: 'a Heroku Button field',
  logo: 'a Heroku Button field',
  success_url: 'a Heroku Button field',
  buildpacks: 'Berth detects the stack itself',
  stack: 'Berth detects the stack itself',
  image: 'Berth detects the stack itself',
  environments: 'Heroku CI and review apps',
});

/** One `env` entry of app.json, as written; `required` is Heroku's default (true) when unsaid. */
export interface AppJsonEnvVar {
  readonly description?: string;
  readonly value?: string;
  readonly required: boolean;
  readonly generator?: 'secret';
}

/** One `formation` entry: a count (`quantity`) and a size mapped to a memory limit. */
export interface AppJsonFormation {
  readonly quantity?: number;
  readonly memoryBytes?: number;
}

/** app.json after its schema: the fields Berth applies, and warning lines for the rest. */
export interface AppJson {
  readonly metadata: ProjectMetadata;
  readonly env: readonly (readonly [string, AppJsonEnvVar])[];
  readonly formation: readonly (readonly [string, AppJsonFormation])[];
  readonly addons: readonly Addon[];
  readonly cron: readonly CronEntry[];
  readonly scripts: DeployScripts;
  readonly warnings: readonly string[];
}

type JsonObject = Record<string, unknown>;

// eslint-disable-next-line no-control-regex -- looking for control characters on purpose
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- as above, but tabs and line breaks are prose
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function schemaError(message: string): BundleError {
  return new BundleError(BundleErrorReasons.APP_JSON_SCHEMA, `app.json: ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectObject(value: unknown, path: string): JsonObject {
  if (!isObject(value)) throw schemaError(`${path} must be an object; got ${describe(value)}`);
  return value;
}

/** A string field; an empty one says nothing (undefined), as Heroku's templates often hold. */
function text(value: unknown, path: string, max: number, prose = false): string | undefined {
  if (typeof value !== 'string') {
    throw schemaError(`${path} must be a string; got ${describe(value)}`);
  }
  if (value.length > max) {
    throw schemaError(`${path} must have at most ${max} characters; it has ${value.length}`);
  }
  if ((prose ? CONTROL_EXCEPT_WHITESPACE : CONTROL).test(value)) {
    throw schemaError(`${path} must not contain control characters`);
  }
  return value === '' ? undefined : value;
}

/** Collects the warning lines of one file, folding many unknown fields into one line. */
class Warnings {
  readonly #unknown: string[] = [];
  readonly #lines: string[] = [];

  unknown(object: JsonObject, known: readonly string[], at: readonly string[]): void {
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) this.#unknown.push(jsonPath([...at, key]));
    }
  }

  line(text: string): void {
    this.#lines.push(`app.json: ${text}`);
  }

  lines(): string[] {
    const unknown = this.#unknown;
    if (unknown.length === 0) return [...this.#lines];
    const listed = unknown.slice(0, LIMITS.listedUnknown).map(quote).join(', ');
    const more =
      unknown.length > LIMITS.listedUnknown
        ? ` and ${unknown.length - LIMITS.listedUnknown} more`
        : '';
    const noun = unknown.length === 1 ? 'field' : 'fields';
    return [...this.#lines, `app.json: unknown ${noun} ${listed}${more} ignored`];
  }
}

/**
 * Parses and checks Heroku's app.json. Fields Berth applies are checked strictly (a wrong
 * type throws, naming the JSON path); every other field is ignored with a warning line.
 * Throws BundleError: APP_JSON_INVALID (not JSON, with the line, column and position),
 * APP_JSON_SCHEMA, APP_JSON_ENV_REFUSED.
 */
export function parseAppJson(source: string): AppJson {
  let root: unknown;
  try {
    root = JSON.parse(source);
  } catch {
    const where = locateJsonSyntaxError(source);
    throw new BundleError(
      BundleErrorReasons.APP_JSON_INVALID,
      where
        ? `app.json is not valid JSON: ${where.problem} at line ${where.line}, column ${where.column} (position ${where.position})`
        : 'app.json is not valid JSON',
    );
  }
  const deep = nestingTooDeep(source, APP_JSON_MAX_DEPTH);
  if (deep) {
    throw schemaError(
      `nesting deeper than ${APP_JSON_MAX_DEPTH} levels at line ${deep.line}, column ${deep.column} (position ${deep.position})`,
    );
  }
  if (!isObject(root)) {
    throw schemaError(`the file must hold a JSON object; it holds ${describe(root)}`);
  }
  const warnings = new Warnings();
  warnings.unknown(root, [...APPLIED, ...NOT_YET, ...Object.keys(IGNORED)], []);
  const later = NOT_YET.filter((key) => Object.hasOwn(root, key));
  if (later.length > 0) {
    warnings.line(
      `${later.join(', ')} ${later.length === 1 ? 'is' : 'are'} not applied yet: this deploy runs without ${later.length === 1 ? 'it' : 'them'}`,
    );
  }
  const ignored = Object.keys(IGNORED).filter((key) => Object.hasOwn(root, key));
  if (ignored.length > 0) {
    warnings.line(`ignored: ${ignored.map((key) => `${key} (${IGNORED[key] ?? ''})`).join(', ')}`);
  }

  const metadata = parseMetadata(root);
  const env = root['env'] === undefined ? [] : parseEnv(root['env'], warnings);
  const formation =
    root['formation'] === undefined ? [] : parseFormation(root['formation'], warnings);
  const addons = root['addons'] === undefined ? [] : parseAddons(root['addons'], warnings);
  const cron =
    root['cron'] === undefined
      ? []
      : parseCron(root['cron'], {
          name: 'app.json',
          unknown: (object, known, at) => warnings.unknown(object, known, at),
        });
  const scripts = root['scripts'] === undefined ? {} : parseScripts(root['scripts'], warnings);
  return { metadata, env, formation, addons, cron, scripts, warnings: warnings.lines() };
}

function parseMetadata(root: JsonObject): ProjectMetadata {
  const metadata: { -readonly [K in keyof ProjectMetadata]: ProjectMetadata[K] } = {};
  const name = root['name'] === undefined ? undefined : text(root['name'], 'name', LIMITS.name);
  if (name !== undefined) metadata.name = name;
  const description =
    root['description'] === undefined
      ? undefined
      : text(root['description'], 'description', LIMITS.description, true);
  if (description !== undefined) metadata.description = description;
  if (root['keywords'] !== undefined) {
    const value = root['keywords'];
    if (!Array.isArray(value)) {
      throw schemaError(`keywords must be an array of strings; got ${describe(value)}`);
    }
    if (value.length > LIMITS.keywords) {
      throw schemaError(`keywords may list at most ${LIMITS.keywords}; it lists ${value.length}`);
    }
    const keywords = (value as unknown[])
      .map((item, index) => text(item, `keywords[${index}]`, LIMITS.keyword))
      .filter((item) => item !== undefined);
    if (keywords.length > 0) metadata.keywords = keywords;
  }
  const repository =
    root['repository'] === undefined
      ? undefined
      : text(root['repository'], 'repository', LIMITS.repository);
  if (repository !== undefined) metadata.repository = repository;
  return metadata;
}

function envRefused(key: string, rule: string): BundleError {
  return new BundleError(
    BundleErrorReasons.APP_JSON_ENV_REFUSED,
    `app.json: env variable ${quote(key)} is refused: ${rule}`,
  );
}

function parseEnv(value: unknown, warnings: Warnings): [string, AppJsonEnvVar][] {
  const object = expectObject(value, 'env');
  const entries = Object.entries(object);
  if (entries.length > LIMITS.env) {
    throw schemaError(
      `env may declare at most ${LIMITS.env} variables; it declares ${entries.length}`,
    );
  }
  return entries.map(([key, raw]) => {
    const path = jsonPath(['env', key]);
    if (!CONFIG_KEY_PATTERN.test(key)) {
      throw schemaError(
        `${path} is not a valid variable name: a name starts with a letter or '_', ` +
          `holds only letters, digits and '_', and has at most 256 characters`,
      );
    }
    if (isPlatformKey(key)) {
      throw envRefused(key, refusedKeyRule(key, { allowRuntimeKeys: false }) ?? 'refused');
    }
    const spec = typeof raw === 'string' ? { value: raw } : expectObject(raw, path);
    warnings.unknown(spec, ['description', 'value', 'required', 'generator'], ['env', key]);
    const description =
      spec['description'] === undefined
        ? undefined
        : text(spec['description'], `${path}.description`, LIMITS.envDescription, true);
    const sample = spec['value'];
    if (sample !== undefined) {
      if (typeof sample !== 'string') {
        throw schemaError(`${path}.value must be a string; got ${describe(sample)}`);
      }
      const bytes = Buffer.byteLength(sample, 'utf8');
      if (bytes > LIMITS.envValueBytes) {
        throw schemaError(
          `${path}.value is ${bytes} bytes; at most ${LIMITS.envValueBytes} (32 KiB) are allowed`,
        );
      }
      if (sample.includes('\0')) throw schemaError(`${path}.value must not contain a NUL byte`);
    }
    const required = spec['required'] ?? true;
    if (typeof required !== 'boolean') {
      throw schemaError(`${path}.required must be a boolean; got ${describe(required)}`);
    }
    const generator = spec['generator'];
    if (generator !== undefined && generator !== 'secret') {
      throw schemaError(
        `${path}.generator must be "secret" (a random value made once); got ${typeof generator === 'string' ? quote(generator) : describe(generator)}`,
      );
    }
    // app.json values are set without autoconfigure, so a runtime key never takes one.
    if (sample !== undefined || generator !== undefined) {
      const rule = refusedKeyRule(key, { allowRuntimeKeys: false });
      if (rule !== undefined) throw envRefused(key, rule);
    }
    return [
      key,
      {
        ...(description !== undefined ? { description } : {}),
        ...(sample !== undefined ? { value: sample } : {}),
        required,
        ...(generator !== undefined ? { generator } : {}),
      },
    ];
  });
}

function parseFormation(value: unknown, warnings: Warnings): [string, AppJsonFormation][] {
  const object = expectObject(value, 'formation');
  const entries = Object.entries(object);
  if (entries.length > LIMITS.formation) {
    throw schemaError(
      `formation may name at most ${LIMITS.formation} process types; it names ${entries.length}`,
    );
  }
  return entries.map(([type, raw]) => {
    const path = jsonPath(['formation', type]);
    const spec = expectObject(raw, path);
    warnings.unknown(spec, ['quantity', 'size'], ['formation', type]);
    const quantity = spec['quantity'];
    if (
      quantity !== undefined &&
      (typeof quantity !== 'number' ||
        !Number.isInteger(quantity) ||
        quantity < 0 ||
        quantity > 100)
    ) {
      throw schemaError(
        `${path}.quantity must be an integer from 0 to 100; got ${typeof quantity === 'number' ? quantity : describe(quantity)}`,
      );
    }
    let memoryBytes: number | undefined;
    if (spec['size'] !== undefined) {
      const size = spec['size'];
      if (typeof size !== 'string') {
        throw schemaError(`${path}.size must be a string; got ${describe(size)}`);
      }
      memoryBytes = heroku.sizeMemory(size);
      if (memoryBytes === undefined) {
        throw schemaError(
          `${path}.size ${quote(size)} is not a size Berth knows; it knows ${heroku.sizeNames().join(', ')}`,
        );
      }
    }
    return [
      type,
      {
        ...(quantity !== undefined ? { quantity } : {}),
        ...(memoryBytes !== undefined ? { memoryBytes } : {}),
      },
    ];
  });
}

function parseAddons(value: unknown, warnings: Warnings): Addon[] {
  if (!Array.isArray(value)) {
    throw schemaError(`addons must be an array; got ${describe(value)}`);
  }
  if (value.length > LIMITS.addons) {
    throw schemaError(`addons may list at most ${LIMITS.addons}; it lists ${value.length}`);
  }
  const addons: Addon[] = [];
  for (const [index, item] of (value as unknown[]).entries()) {
    const path = `addons[${index}]`;
    let plan: unknown = item;
    let alias: string | undefined;
    if (isObject(item)) {
      warnings.unknown(item, ['plan', 'as', 'options'], [`addons[${index}]`]);
      if (item['options'] !== undefined) {
        warnings.line(`${path}.options ignored: Berth's add-ons take no provisioning options`);
      }
      plan = item['plan'];
      if (plan === undefined) throw schemaError(`${path}.plan is required`);
      if (item['as'] !== undefined) {
        alias = text(item['as'], `${path}.as`, 60);
        if (alias === undefined || !ADDON_ALIAS_PATTERN.test(alias) || alias.startsWith('BERTH_')) {
          throw schemaError(
            `${path}.as must be an environment variable name in capitals (the app gets <as>_URL), not BERTH_*; got ${quote(alias ?? '')}`,
          );
        }
      }
      if (typeof plan !== 'string') {
        throw schemaError(`${path}.plan must be a string; got ${describe(plan)}`);
      }
    } else if (typeof plan !== 'string') {
      throw schemaError(
        `${path} must be an add-on name or {"plan": …, "as": …}; got ${describe(plan)}`,
      );
    }
    const kind = heroku.addonKind(plan);
    if (kind === undefined) {
      warnings.line(
        `add-on ${quote(plan)} (${path}) is not one Berth makes; ignored (Berth makes postgres and redis)`,
      );
      continue;
    }
    const as = alias ?? heroku.defaultAlias(kind);
    if (addons.some((a) => a.as === as)) {
      throw schemaError(
        `addons lists a ${kind} add-on twice as ${as}_URL: give each add-on of a kind an alias of its own ("as")`,
      );
    }
    addons.push({ kind, as });
  }
  return addons;
}
