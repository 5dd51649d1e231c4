import { CONFIG_KEY_PATTERN, isPlatformKey, refusedKeyRule } from '../../domain/config/index.js';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';
import { parseCron } from './cron.js';
import { locateJsonSyntaxError } from './json-syntax.js';
import {
  ADDON_ALIAS_PATTERN,
  ADDONS,
  DEFAULT_ADDON_ALIASES,
  HEALTHCHECK_DEFAULTS,
  type Addon,
  type CronEntry,
  type EnvVarSpec,
  type Healthcheck,
  type ProjectMetadata,
} from './model.js';

/** berth.json may be at most this large (64 KiB). */
export const BERTH_JSON_MAX_BYTES = 64 * 1024;

/** Environment variable names: exactly the config keys the config domain allows. */
export const ENV_KEY_PATTERN = CONFIG_KEY_PATTERN;

const LIMITS = Object.freeze({
  name: 100,
  description: 2000,
  author: 200,
  version: 64,
  processes: 50,
  env: 500,
  envDescription: 1000,
  envValueBytes: 32 * 1024,
  healthcheckPath: 1024,
});

const TOP_LEVEL_FIELDS = [
  'name',
  'description',
  'author',
  'version',
  'processes',
  'env',
  'healthcheck',
  'addons',
  'formation',
  'static',
  'cron',
] as const;

/** berth.json after its schema: structure checked; process names and commands not yet. */
export interface BerthJson {
  readonly metadata: ProjectMetadata;
  /** [type, command] in file order, present when berth.json declares `processes`. */
  readonly processes?: readonly (readonly [string, string])[];
  /** `required` is absent where berth.json leaves it out, so app.json's can apply. */
  readonly env: Readonly<Record<string, BerthJsonEnvVar>>;
  readonly healthcheck?: Healthcheck;
  readonly addons: readonly Addon[];
  readonly formation: readonly (readonly [string, number])[];
  /** The folder a static site publishes (`static.root`), relative to the bundle's root. */
  readonly staticRoot?: string;
  /** Scheduled commands, Dokku's format; berth.json's win per id over app.json's. */
  readonly cron: readonly CronEntry[];
}

/** One berth.json `env` entry as written. */
export type BerthJsonEnvVar = Omit<EnvVarSpec, 'required' | 'default' | 'generator'> & {
  readonly required?: boolean;
};

type JsonObject = Record<string, unknown>;

// eslint-disable-next-line no-control-regex -- looking for control characters on purpose
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- as above, but tabs and line breaks are prose
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function schemaError(message: string): BundleError {
  return new BundleError(BundleErrorReasons.BERTH_JSON_SCHEMA, `berth.json: ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectObject(value: unknown, field: string): JsonObject {
  if (!isObject(value))
    throw schemaError(`${quote(field)} must be an object; got ${describe(value)}`);
  return value;
}

/**
 * Fields other platforms take that would reach past the app's container to the host. Berth
 * has none of them: apps are reached through the router, on their own network, unprivileged.
 */
const HOST_ACCESS_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  privileged: 'privileged mode',
  capabilities: 'extra capabilities',
  ports: 'host ports',
  hostPort: 'host ports',
  hostPorts: 'host ports',
  volumes: 'host mounts',
  mounts: 'host mounts',
  network: 'host networking',
  networkMode: 'host networking',
});

function rejectHostAccess(object: JsonObject): void {
  for (const key of Object.keys(object)) {
    const what = HOST_ACCESS_FIELDS[key];
    if (what === undefined) continue;
    throw new BundleError(
      BundleErrorReasons.BERTH_JSON_HOST_ACCESS,
      `berth.json: ${quote(key)} is refused: Berth never gives an app ${what}; apps are ` +
        `reached on PORT through the router, on a network of their own`,
    );
  }
}

function rejectUnknownFields(object: JsonObject, known: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new BundleError(
        BundleErrorReasons.BERTH_JSON_UNKNOWN_FIELD,
        `berth.json: unknown field ${quote(where ? `${where}.${key}` : key)}; ` +
          `${where ? quote(where) : 'berth.json'} may hold ${known.join(', ')}`,
      );
    }
  }
}

function boundedString(
  value: unknown,
  field: string,
  maxLength: number,
  allowWhitespaceControls = false,
): string {
  if (typeof value !== 'string') {
    throw schemaError(`${quote(field)} must be a string; got ${describe(value)}`);
  }
  if (value.length === 0 || value.length > maxLength) {
    throw schemaError(
      `${quote(field)} must have 1 to ${maxLength} characters; it has ${value.length}`,
    );
  }
  if ((allowWhitespaceControls ? CONTROL_EXCEPT_WHITESPACE : CONTROL).test(value)) {
    throw schemaError(`${quote(field)} must not contain control characters`);
  }
  return value;
}

function integerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw schemaError(
      `${quote(field)} must be an integer from ${min} to ${max}; got ${typeof value === 'number' ? value : describe(value)}`,
    );
  }
  return value;
}

/**
 * Parses and checks berth.json. Throws BundleError: BERTH_JSON_INVALID (not JSON, with the
 * line, column and position), BERTH_JSON_UNKNOWN_FIELD, BERTH_JSON_SCHEMA.
 */
export function parseBerthJson(text: string): BerthJson {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    const where = locateJsonSyntaxError(text);
    throw new BundleError(
      BundleErrorReasons.BERTH_JSON_INVALID,
      where
        ? `berth.json is not valid JSON: ${where.problem} at line ${where.line}, column ${where.column} (position ${where.position})`
        : 'berth.json is not valid JSON',
    );
  }
  if (!isObject(root)) {
    throw schemaError(`the file must hold a JSON object; it holds ${describe(root)}`);
  }
  rejectHostAccess(root);
  rejectUnknownFields(root, TOP_LEVEL_FIELDS, '');

  const metadata: Record<string, string> = {};
  if (root['name'] !== undefined)
    metadata['name'] = boundedString(root['name'], 'name', LIMITS.name);
  if (root['description'] !== undefined) {
    metadata['description'] = boundedString(
      root['description'],
      'description',
      LIMITS.description,
      true,
    );
  }
  if (root['author'] !== undefined) {
    metadata['author'] = boundedString(root['author'], 'author', LIMITS.author);
  }
  if (root['version'] !== undefined) {
    metadata['version'] = boundedString(root['version'], 'version', LIMITS.version);
  }

  const healthcheck =
    root['healthcheck'] === undefined ? undefined : parseHealthcheck(root['healthcheck']);
  const processes = root['processes'] === undefined ? undefined : parseProcesses(root['processes']);
  const staticRoot = root['static'] === undefined ? undefined : parseStatic(root['static']);
  return {
    metadata,
    ...(processes ? { processes } : {}),
    env: root['env'] === undefined ? {} : parseEnv(root['env']),
    ...(healthcheck ? { healthcheck } : {}),
    addons: root['addons'] === undefined ? [] : parseAddons(root['addons']),
    formation: root['formation'] === undefined ? [] : parseFormation(root['formation']),
    ...(staticRoot === undefined ? {} : { staticRoot }),
    cron:
      root['cron'] === undefined
        ? []
        : parseCron(root['cron'], {
            name: 'berth.json',
            unknown: (object, known, at) => rejectUnknownFields(object, known, at.join('.')),
          }),
  };
}

/**
 * `static: { root: "site" }`: a folder of the bundle, named by a plain relative path (no
 * `..`, no dot folder, no backslash); the router serves it and nothing else of the bundle.
 */
function parseStatic(value: unknown): string {
  const object = expectObject(value, 'static');
  rejectUnknownFields(object, ['root'], 'static');
  const root = boundedString(object['root'], 'static.root', 200)
    .replace(/^\.\//, '')
    .replace(/\/+$/, '');
  const segments = root.split('/');
  if (root === '' || root.includes('\\') || segments.some((s) => s === '' || s.startsWith('.'))) {
    throw schemaError(
      `'static.root' must be a folder of the bundle as a relative path like 'site' or ` +
        `'web/public', without '..' or dot folders; got ${quote(root)}`,
    );
  }
  return root;
}

function parseProcesses(value: unknown): [string, string][] {
  const object = expectObject(value, 'processes');
  const entries = Object.entries(object);
  if (entries.length === 0) {
    throw schemaError(`'processes' must declare at least one process`);
  }
  if (entries.length > LIMITS.processes) {
    throw schemaError(
      `'processes' may declare at most ${LIMITS.processes} process types; it declares ${entries.length}`,
    );
  }
  return entries.map(([type, command]) => {
    if (typeof command !== 'string') {
      throw schemaError(
        `the command of process ${quote(type)} must be a string; got ${describe(command)}`,
      );
    }
    return [type, command];
  });
}

function parseEnv(value: unknown): Record<string, BerthJsonEnvVar> {
  const object = expectObject(value, 'env');
  const entries = Object.entries(object);
  if (entries.length > LIMITS.env) {
    throw schemaError(
      `'env' may declare at most ${LIMITS.env} variables; it declares ${entries.length}`,
    );
  }
  const specs: [string, BerthJsonEnvVar][] = entries.map(([key, raw]) => {
    if (!ENV_KEY_PATTERN.test(key)) {
      throw schemaError(
        `env variable ${quote(key)} is not a valid name: a name starts with a letter or '_', ` +
          `holds only letters, digits and '_', and has at most 256 characters`,
      );
    }
    // Declaring one would fail every deploy (a required key no config may hold).
    if (isPlatformKey(key)) throw envRefused(key);
    const field = `env.${key}`;
    const spec = expectObject(raw, field);
    rejectUnknownFields(spec, ['description', 'value', 'required'], field);
    const description =
      spec['description'] === undefined
        ? undefined
        : boundedString(spec['description'], `${field}.description`, LIMITS.envDescription, true);
    const sample = spec['value'];
    if (sample !== undefined) {
      if (typeof sample !== 'string') {
        throw schemaError(`${quote(`${field}.value`)} must be a string; got ${describe(sample)}`);
      }
      const bytes = Buffer.byteLength(sample, 'utf8');
      if (bytes > LIMITS.envValueBytes) {
        throw schemaError(
          `${quote(`${field}.value`)} is ${bytes} bytes; at most ${LIMITS.envValueBytes} (32 KiB) are allowed`,
        );
      }
    }
    const required = spec['required'];
    if (required !== undefined && typeof required !== 'boolean') {
      throw schemaError(
        `${quote(`${field}.required`)} must be true or false; got ${describe(required)}`,
      );
    }
    return [
      key,
      {
        ...(description !== undefined ? { description } : {}),
        ...(sample !== undefined ? { value: sample } : {}),
        ...(required !== undefined ? { required } : {}),
      },
    ];
  });
  // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
  return Object.fromEntries(specs);
}

function envRefused(key: string): BundleError {
  const rule = refusedKeyRule(key, { allowRuntimeKeys: false }) ?? 'refused';
  return new BundleError(
    BundleErrorReasons.BERTH_JSON_ENV_REFUSED,
    `berth.json: env variable ${quote(key)} is refused: ${rule}`,
  );
}

/**
 * The sample values autoconfigure would set, checked as a config patch's keys are: a runtime
 * key (LD_PRELOAD, …) is never set from a sample, only by its owner. Throws BundleError
 * (BERTH_JSON_ENV_REFUSED), so an upload or push is refused before it is queued.
 */
export function autoconfigureSamples(
  env: Readonly<Record<string, EnvVarSpec>>,
): Record<string, string> {
  const samples: [string, string][] = [];
  for (const [key, spec] of Object.entries(env)) {
    if (spec.value === undefined) continue;
    if (refusedKeyRule(key, { allowRuntimeKeys: false }) !== undefined) throw envRefused(key);
    samples.push([key, spec.value]);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
  return Object.fromEntries(samples);
}

function parseHealthcheck(value: unknown): Healthcheck {
  const object = expectObject(value, 'healthcheck');
  rejectUnknownFields(object, ['path', 'timeoutSeconds', 'attempts'], 'healthcheck');
  if (object['path'] === undefined) throw schemaError(`'healthcheck.path' is required`);
  const path = boundedString(object['path'], 'healthcheck.path', LIMITS.healthcheckPath);
  if (!path.startsWith('/') || /\s/.test(path)) {
    throw schemaError(
      `'healthcheck.path' must start with '/' and contain no spaces; got ${quote(path)}`,
    );
  }
  return {
    path,
    timeoutSeconds:
      object['timeoutSeconds'] === undefined
        ? HEALTHCHECK_DEFAULTS.timeoutSeconds
        : integerIn(object['timeoutSeconds'], 'healthcheck.timeoutSeconds', 1, 300),
    attempts:
      object['attempts'] === undefined
        ? HEALTHCHECK_DEFAULTS.attempts
        : integerIn(object['attempts'], 'healthcheck.attempts', 1, 100),
  };
}

function parseAddons(value: unknown): Addon[] {
  if (!Array.isArray(value)) {
    throw schemaError(`'addons' must be an array; got ${describe(value)}`);
  }
  if (value.length > 20)
    throw schemaError(`'addons' may list at most 20; it lists ${value.length}`);
  const addons: Addon[] = [];
  for (const [index, item] of (value as unknown[]).entries()) {
    const where = `addons[${index}]`;
    let kindValue: unknown = item;
    let alias: string | undefined;
    if (isObject(item)) {
      rejectUnknownFields(item, ['kind', 'as'], where);
      kindValue = item['kind'];
      if (item['as'] !== undefined) {
        alias = boundedString(item['as'], `${where}.as`, 60);
        if (!ADDON_ALIAS_PATTERN.test(alias) || alias.startsWith('BERTH_')) {
          throw schemaError(
            `${quote(`${where}.as`)} must be an environment variable name in capitals (the app gets <as>_URL), not BERTH_*; got ${quote(alias)}`,
          );
        }
      }
    }
    const kind = ADDONS.find((known) => known === kindValue);
    if (kind === undefined) {
      throw schemaError(
        `'addons' may list only ${ADDONS.map((a) => `"${a}"`).join(' and ')}; got ${typeof kindValue === 'string' ? quote(kindValue) : kindValue === undefined ? 'no kind' : describe(kindValue)} (an item is a kind, or {"kind": …, "as": "ALIAS"})`,
      );
    }
    const as = alias ?? DEFAULT_ADDON_ALIASES[kind];
    if (addons.some((a) => a.as === as)) {
      throw schemaError(
        `'addons' lists "${kind}" twice as ${as}_URL: give each add-on of a kind an alias of its own ("as")`,
      );
    }
    addons.push({ kind, as });
  }
  return addons;
}

function parseFormation(value: unknown): [string, number][] {
  const object = expectObject(value, 'formation');
  const entries = Object.entries(object);
  if (entries.length > LIMITS.processes) {
    throw schemaError(
      `'formation' may name at most ${LIMITS.processes} process types; it names ${entries.length}`,
    );
  }
  return entries.map(([type, count]) => [type, integerIn(count, `formation.${type}`, 0, 100)]);
}
