import { PROCESS_TYPE_PATTERN as PROCESS_TYPE_RULE } from '../../domain/process-configs/index.js';
import type { ProcessCommands } from '../../domain/releases/index.js';

/** The stacks Berth recognises, in detection priority. */
export const Stacks = Object.freeze({
  dockerfile: 'dockerfile',
  node: 'node',
  python: 'python',
  static: 'static',
  procfile: 'procfile',
  unknown: 'unknown',
} as const);
export type Stack = (typeof Stacks)[keyof typeof Stacks];

/** The add-ons a bundle may ask for. */
export const ADDONS = Object.freeze(['postgres', 'redis'] as const);
export type AddonKind = (typeof ADDONS)[number];

/**
 * An add-on berth.json asks for (`"postgres"` or `{"kind": "postgres", "as": "DATABASE"}`), or
 * app.json (`"heroku-postgresql"`, `{"plan": "heroku-redis", "as": "CACHE"}`): the first deploy
 * makes it and attaches it as `<as>_URL`; later deploys find it by alias.
 */
export interface Addon {
  readonly kind: AddonKind;
  /** The alias, the kind's default (DATABASE, REDIS) when berth.json names none. */
  readonly as: string;
}

/** The alias an add-on of a kind is attached as unless berth.json names one. */
export const DEFAULT_ADDON_ALIASES: Readonly<Record<AddonKind, string>> = Object.freeze({
  postgres: 'DATABASE',
  redis: 'REDIS',
});

/** An alias names `<ALIAS>_URL`: the add-ons domain's rule. */
export const ADDON_ALIAS_PATTERN = /^[A-Z][A-Z0-9_]{0,59}$/;

/** Where a project's processes came from. */
export type ProcessSource = 'berth.json' | 'Procfile' | 'stack';

/** Process type names (`web`, `worker`, `clock-2`): the process-configs domain's rule. */
export const PROCESS_TYPE_PATTERN = PROCESS_TYPE_RULE;

/**
 * The descriptive fields of berth.json and app.json (`keywords` and `repository` are
 * app.json's), kept as the deployment's project metadata. A type, not an interface, so it is a
 * plain record too.
 */
export type ProjectMetadata = {
  readonly name?: string;
  readonly description?: string;
  readonly author?: string;
  readonly version?: string;
  readonly keywords?: readonly string[];
  readonly repository?: string;
};

/**
 * A config var the app expects (berth.json or app.json `env`). `value` is berth.json's sample,
 * set only with autoconfigure; `default` is app.json's value, set whenever the app has no such
 * config var (as Heroku sets it when an app is created); neither is a secret.
 */
export interface EnvVarSpec {
  readonly description?: string;
  readonly value?: string;
  readonly default?: string;
  readonly required: boolean;
  /** app.json `generator: "secret"`: a random value made once, when the app has none. */
  readonly generator?: 'secret';
}

export interface Healthcheck {
  /** An HTTP path, starting with '/'. */
  readonly path: string;
  readonly timeoutSeconds: number;
  readonly attempts: number;
}

/** Defaults of the healthcheck fields berth.json may leave out. */
export const HEALTHCHECK_DEFAULTS = Object.freeze({ timeoutSeconds: 5, attempts: 5 });

/** What a cron entry does while one run of it is still going (Kubernetes' and Dokku's names). */
export const CONCURRENCY_POLICIES = Object.freeze(['allow', 'forbid', 'replace'] as const);
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

/** One scheduled command (app.json or berth.json `cron`), run as a one-off of the live release. */
export interface CronEntry {
  /** Given, or made from the command (`c-` and 10 hex digits of its SHA-256). */
  readonly id: string;
  readonly command: string;
  /** Five cron fields or a macro (`@daily`), in UTC; checked at upload. */
  readonly schedule: string;
  readonly concurrencyPolicy: ConcurrencyPolicy;
  /** Dokku's meaning: the entry is kept and listed, but never run on its schedule. */
  readonly maintenance: boolean;
}

/** app.json's `scripts`, each run as a one-off of the new release of a deploy. */
export interface DeployScripts {
  /** Dokku's `scripts.dokku.predeploy`: each deploy, before any unit starts; failing fails it. */
  readonly predeploy?: string;
  /** Dokku's `scripts.dokku.postdeploy`: each deploy, once the new release serves. */
  readonly postdeploy?: string;
  /** Heroku's `scripts.postdeploy`: once the first deploy of the app serves, never again. */
  readonly firstPostdeploy?: string;
}

/** What readProject learns from an extracted bundle. */
export interface Project {
  readonly metadata: ProjectMetadata;
  readonly stack: Stack;
  /** Process type → what it runs, in declaration order. */
  readonly processes: ProcessCommands;
  readonly processSource: ProcessSource;
  /** One entry per process type (and per type the formation names): null when it is fine. */
  readonly processErrors: Readonly<Record<string, string | null>>;
  readonly env: Readonly<Record<string, EnvVarSpec>>;
  readonly healthcheck?: Healthcheck;
  readonly addons: readonly Addon[];
  /** Process type → instance count, for every declared process type. */
  readonly formation: Readonly<Record<string, number>>;
  /** The folder a static site publishes, when berth.json names one (`static.root`). */
  readonly staticRoot?: string;
  /** Process type → memory limit per unit in bytes, for the types app.json sizes. */
  readonly sizes: Readonly<Record<string, number>>;
  /** Scheduled commands, berth.json's winning per id over app.json's. */
  readonly cron: readonly CronEntry[];
  /** The `release` process's command: Heroku's release phase, a one-off per new release. */
  readonly releaseCommand?: string;
  /** app.json's deploy scripts, each a one-off of the new release. */
  readonly scripts: DeployScripts;
  /** Lines for the deploy's events: what the manifests hold that Berth does not apply. */
  readonly warnings: readonly string[];
}
