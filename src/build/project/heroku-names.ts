import { DEFAULT_ADDON_ALIASES, type AddonKind } from './model.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * Heroku's dyno sizes and the memory limit each becomes on Berth (Heroku's own RAM per dyno).
 * Names are compared without case (`Standard-1X`); `1x`, `2x`, `px` are Heroku's old names.
 * CPU is not mapped: Heroku's CPU shares have no counterpart, so units keep the runtime's.
 */
export const HEROKU_SIZES: Readonly<Record<string, number>> = Object.freeze({
  eco: 512 * MiB,
  free: 512 * MiB,
  hobby: 512 * MiB,
  basic: 512 * MiB,
  'standard-1x': 512 * MiB,
  '1x': 512 * MiB,
  'standard-2x': 1 * GiB,
  '2x': 1 * GiB,
  'performance-m': 2560 * MiB,
  'performance-l': 14 * GiB,
  px: 14 * GiB,
  'performance-l-ram': 30 * GiB,
  'performance-xl': 62 * GiB,
  'performance-2xl': 126 * GiB,
  'private-s': 1 * GiB,
  'private-m': 2560 * MiB,
  'private-l': 14 * GiB,
  'shield-s': 1 * GiB,
  'shield-m': 2560 * MiB,
  'shield-l': 14 * GiB,
});

/**
 * The add-on services of Heroku and Dokku that Berth's add-ons stand in for. A plan after ':'
 * (`heroku-postgresql:essential-0`) is a Heroku price tier and is not read.
 */
export const HEROKU_ADDON_KINDS: Readonly<Record<string, AddonKind>> = Object.freeze({
  'heroku-postgresql': 'postgres',
  'dokku-postgres': 'postgres',
  postgres: 'postgres',
  postgresql: 'postgres',
  'heroku-redis': 'redis',
  'dokku-redis': 'redis',
  redis: 'redis',
});

/** Lookups of Heroku's names for app.json. */
export const heroku = Object.freeze({
  /** A size's memory limit in bytes, or undefined for a size Berth does not know. */
  sizeMemory(size: string): number | undefined {
    const key = size.trim().toLowerCase();
    return Object.hasOwn(HEROKU_SIZES, key) ? HEROKU_SIZES[key] : undefined;
  },
  sizeNames(): string[] {
    return Object.keys(HEROKU_SIZES);
  },
  /** The add-on kind of `service[:plan]`, or undefined for a service Berth does not make. */
  addonKind(plan: string): AddonKind | undefined {
    const service = plan.split(':', 1)[0]?.trim().toLowerCase() ?? '';
    return Object.hasOwn(HEROKU_ADDON_KINDS, service) ? HEROKU_ADDON_KINDS[service] : undefined;
  },
  /** Heroku attaches heroku-postgresql as DATABASE_URL and heroku-redis as REDIS_URL too. */
  defaultAlias(kind: AddonKind): string {
    return DEFAULT_ADDON_ALIASES[kind];
  },
});
