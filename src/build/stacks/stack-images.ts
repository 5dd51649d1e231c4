/**
 * The names of Berth's own images built from Debian packages: one base image per app stack
 * (node, python), and the database servers of add-ons (postgres, redis) for an engine that
 * cannot pull the official images.
 */
export const STACK_IMAGES = Object.freeze({
  node: 'localhost/berth-stacks/node:bookworm',
  python: 'localhost/berth-stacks/python:bookworm',
  postgres: 'localhost/berth-stacks/postgres:bookworm',
  redis: 'localhost/berth-stacks/redis:bookworm',
} as const);

/** A stack Berth builds a base image for. */
export type StackName = keyof typeof STACK_IMAGES;

/** Every stack, in a fixed order (the CLI's `--only` and results follow it). */
export const STACK_NAMES: readonly StackName[] = Object.freeze([
  'node',
  'python',
  'postgres',
  'redis',
] as const);

/** The Debian release every stack image is made of. */
export const DEBIAN_SUITE = 'bookworm';

/**
 * Debian packages debootstrap adds to minbase, per stack. Node is not among them on purpose:
 * Debian's nodejs is 18 and its npm fails to configure under debootstrap, so the node image gets
 * the controller's own Node and npm copied in instead (node-runtime.ts).
 */
export const STACK_PACKAGES: Readonly<Record<StackName, readonly string[]>> = Object.freeze({
  node: Object.freeze(['ca-certificates']),
  python: Object.freeze(['ca-certificates', 'python3', 'python3-venv']),
  // The major versions of bookworm; the images follow the official ones' layout (below).
  postgres: Object.freeze(['postgresql-15']),
  redis: Object.freeze(['redis-server']),
});

/**
 * What the add-on images share with the official postgres and redis images, so that Berth runs
 * either the same way: the server's user, its data directory (a volume, owned by that user and
 * empty), and for PostgreSQL the directory of its programs on PATH.
 */
export const ADDON_IMAGE_LAYOUT = Object.freeze({
  postgres: Object.freeze({
    user: 'postgres',
    dataDir: '/var/lib/postgresql/data',
    path: '/usr/lib/postgresql/15/bin',
    port: 5432,
  }),
  redis: Object.freeze({ user: 'redis', dataDir: '/data', path: '', port: 6379 }),
});

/** PATH inside every stack image; an import carries no config, so it is set explicitly. */
export const STACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Whether a string names a stack (for the CLI's `--only`). */
export function isStackName(value: string): value is StackName {
  return Object.hasOwn(STACK_IMAGES, value);
}
