import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BuildFailure, BuildFailureReasons } from './build-failure.js';

/** A package.json larger than this is not a hand-written manifest; the build refuses it. */
const PACKAGE_JSON_MAX_BYTES = 1024 * 1024;

/** The parts of package.json the builder reads. */
export interface PackageManifest {
  /** Whether any dependency is declared, so `npm ci`/`npm install` has something to do. */
  readonly hasDependencies: boolean;
  /**
   * Paths inside the project named by `file:` dependencies (a vendored folder or tarball),
   * relative and normalised, each once. Paths that leave the project are left out: npm
   * reports them when it cannot find them.
   */
  readonly localDependencies: readonly string[];
  /** Script name → command line, string-valued entries only. */
  readonly scripts: Readonly<Record<string, string>>;
}

/**
 * Reads package.json of a node project. Throws BuildFailure when it is not a regular file,
 * too large or not a JSON object: the deployer reads it earlier only when it needs the start
 * script, so a Procfile app may reach the build with a broken one.
 */
export async function readPackageManifest(dir: string): Promise<PackageManifest> {
  const file = join(dir, 'package.json');
  const info = await lstat(file).catch(() => undefined);
  if (!info?.isFile() || info.size > PACKAGE_JSON_MAX_BYTES) {
    throw invalid(
      info === undefined
        ? 'package.json is missing'
        : info.isFile()
          ? 'package.json is larger than 1 MiB'
          : 'package.json is not a regular file',
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw invalid('package.json is not valid JSON');
  }
  if (!isRecord(manifest)) throw invalid('package.json is not a JSON object');
  // optionalDependencies count too: npm installs them, and an app may need them when present.
  const dependencyMaps = ['dependencies', 'devDependencies', 'optionalDependencies']
    .map((field) => manifest[field])
    .filter(isRecord);
  const hasDependencies = dependencyMaps.some((deps) => Object.keys(deps).length > 0);
  const localDependencies = new Set<string>();
  for (const deps of dependencyMaps) {
    for (const spec of Object.values(deps)) {
      const path = typeof spec === 'string' ? localPathOf(spec) : undefined;
      if (path !== undefined) localDependencies.add(path);
    }
  }
  const scripts: Record<string, string> = {};
  const declared = manifest['scripts'];
  if (isRecord(declared)) {
    for (const [name, command] of Object.entries(declared)) {
      if (typeof command === 'string') scripts[name] = command;
    }
  }
  return { hasDependencies, localDependencies: [...localDependencies], scripts };
}

/** The project-relative path of a `file:` spec, or undefined when it is not one inside. */
function localPathOf(spec: string): string | undefined {
  if (!spec.startsWith('file:')) return undefined;
  const path = posix.normalize(spec.slice('file:'.length).replaceAll('\\', '/'));
  if (path.startsWith('/') || path === '.' || path === '..' || path.startsWith('../')) {
    return undefined;
  }
  return path.replace(/\/+$/, '');
}

function invalid(message: string): BuildFailure {
  return new BuildFailure(BuildFailureReasons.INVALID_PROJECT, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
