import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import {
  IMAGE_CMD,
  shellCommand,
  STATIC_SITE,
  type ProcessCommand,
} from '../../domain/releases/index.js';
import { Stacks, type Stack } from './model.js';
import { isProjectFile, readProjectFile } from './project-files.js';

/** package.json is read only for its start script; a larger one is not a source manifest. */
const PACKAGE_JSON_MAX_BYTES = 1024 * 1024;

/**
 * Folders a static site may publish from, in this order, when one holds an index.html. The
 * router applies the same rule when it serves the site (src/router/builtin/static-root.ts).
 */
export const STATIC_FOLDERS = Object.freeze(['public', 'dist', 'build'] as const);

/**
 * The project's stack, from the files at its root, first match wins: a Dockerfile, then
 * package.json, requirements.txt or pyproject.toml, then a static site (index.html at the
 * root, the folder berth.json's `static.root` names, or, without a Procfile, an index.html in
 * public/, dist/ or build/), and a lone Procfile.
 */
export async function detectStack(dir: string, staticRoot?: string): Promise<Stack> {
  if (await isProjectFile(dir, 'Dockerfile')) return Stacks.dockerfile;
  if (await isProjectFile(dir, 'package.json')) return Stacks.node;
  if (
    (await isProjectFile(dir, 'requirements.txt')) ||
    (await isProjectFile(dir, 'pyproject.toml'))
  ) {
    return Stacks.python;
  }
  if (await isProjectFile(dir, 'index.html')) return Stacks.static;
  if (staticRoot !== undefined) return Stacks.static;
  const procfile = await isProjectFile(dir, 'Procfile');
  if (!procfile) {
    for (const folder of STATIC_FOLDERS) {
      if (await isProjectFile(dir, `${folder}/index.html`)) return Stacks.static;
    }
  }
  if (procfile) return Stacks.procfile;
  return Stacks.unknown;
}

/**
 * The processes a stack runs when neither berth.json nor a Procfile declares any. Python has
 * no conventional entry point, so it declares none; node needs a `start` script.
 */
export async function defaultProcesses(
  dir: string,
  stack: Stack,
): Promise<[string, ProcessCommand][]> {
  switch (stack) {
    case Stacks.dockerfile:
      return [['web', IMAGE_CMD]];
    case Stacks.static:
      return [['web', STATIC_SITE]];
    case Stacks.node:
      return (await hasStartScript(dir)) ? [['web', shellCommand('npm start')]] : noStartScript();
    case Stacks.python:
    case Stacks.procfile:
    case Stacks.unknown:
      return [];
  }
}

async function hasStartScript(dir: string): Promise<boolean> {
  const file = await readProjectFile(dir, 'package.json', PACKAGE_JSON_MAX_BYTES);
  if (file.kind !== 'text') {
    throw new BundleError(
      BundleErrorReasons.PACKAGE_JSON_INVALID,
      file.kind === 'too-large'
        ? 'package.json is larger than 1 MiB'
        : 'package.json is not a regular file',
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(file.text);
  } catch {
    throw new BundleError(
      BundleErrorReasons.PACKAGE_JSON_INVALID,
      'package.json is not valid JSON, so its start script cannot be read',
    );
  }
  const scripts = isRecord(manifest) ? manifest['scripts'] : undefined;
  const start = isRecord(scripts) ? scripts['start'] : undefined;
  return typeof start === 'string' && start.trim() !== '';
}

function noStartScript(): never {
  throw new BundleError(
    BundleErrorReasons.NO_PROCESS,
    `package.json has no 'start' script; add one, or declare processes in berth.json or a Procfile`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
