import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildFailure, BuildFailureReasons } from './build-failure.js';

/** A package.json larger than this is not a hand-written manifest; the build refuses it. */
const PACKAGE_JSON_MAX_BYTES = 1024 * 1024;

/** The parts of package.json the builder reads. */
export interface PackageManifest {
  /** Whether any dependency is declared, so `npm ci`/`npm install` has something to do. */
  readonly hasDependencies: boolean;
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
  const hasDependencies = ['dependencies', 'devDependencies', 'optionalDependencies'].some(
    (field) => {
      const deps = manifest[field];
      return isRecord(deps) && Object.keys(deps).length > 0;
    },
  );
  const scripts: Record<string, string> = {};
  const declared = manifest['scripts'];
  if (isRecord(declared)) {
    for (const [name, command] of Object.entries(declared)) {
      if (typeof command === 'string') scripts[name] = command;
    }
  }
  return { hasDependencies, scripts };
}

function invalid(message: string): BuildFailure {
  return new BuildFailure(BuildFailureReasons.INVALID_PROJECT, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
