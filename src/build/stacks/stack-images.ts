/** The names of Berth's own stack base images, one per stack, built from Debian packages. */
export const STACK_IMAGES = Object.freeze({
  node: 'localhost/berth-stacks/node:bookworm',
  python: 'localhost/berth-stacks/python:bookworm',
} as const);

/** A stack Berth builds a base image for. */
export type StackName = keyof typeof STACK_IMAGES;

/** Every stack, in a fixed order (the CLI's `--only` and results follow it). */
export const STACK_NAMES: readonly StackName[] = Object.freeze(['node', 'python'] as const);

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
});

/** PATH inside every stack image; an import carries no config, so it is set explicitly. */
export const STACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Whether a string names a stack (for the CLI's `--only`). */
export function isStackName(value: string): value is StackName {
  return Object.hasOwn(STACK_IMAGES, value);
}
