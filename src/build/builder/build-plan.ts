import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Stacks, type Stack } from '../project/index.js';
import { BuildFailure, BuildFailureReasons } from './build-failure.js';
import { readPackageManifest } from './package-json.js';
import type { BuildCommand } from './run-command.js';

/** The directory of a python slug's virtual environment, relative to the slug. */
export const VENV_DIR = '.venv';

/** Flags that keep npm from phoning home and from printing ads into the task log. */
const NPM_QUIET = ['--no-audit', '--no-fund'] as const;

/** requirements.txt is read only to see whether it names anything; pip reads it for real. */
const REQUIREMENTS_MAX_BYTES = 1024 * 1024;

/**
 * The commands that turn a project of `stack` into a slug, in order, decided from its files
 * before anything runs. An empty plan is a real answer: a static site, a Procfile app, and a
 * node app without dependencies or a build script deploy without building.
 */
export async function planBuild(dir: string, stack: Stack): Promise<BuildCommand[]> {
  switch (stack) {
    case Stacks.node:
      return planNode(dir);
    case Stacks.python:
      return planPython(dir);
    case Stacks.dockerfile:
      throw new BuildFailure(
        BuildFailureReasons.UNSUPPORTED_STACK,
        'the process runtime cannot build a Dockerfile app; deploy it with --runtime container',
      );
    case Stacks.static:
    case Stacks.procfile:
    case Stacks.unknown:
      return [];
  }
}

async function planNode(dir: string): Promise<BuildCommand[]> {
  const manifest = await readPackageManifest(dir);
  const plan: BuildCommand[] = [];
  if (manifest.hasDependencies) {
    // npm ci installs exactly the lock file, or fails when it disagrees with package.json;
    // without a lock file only npm install can resolve the ranges.
    const locked =
      (await isFile(join(dir, 'package-lock.json'))) ||
      (await isFile(join(dir, 'npm-shrinkwrap.json')));
    plan.push(
      locked
        ? { name: 'npm ci', argv: ['npm', 'ci', ...NPM_QUIET] }
        : { name: 'npm install', argv: ['npm', 'install', ...NPM_QUIET] },
    );
  }
  if (manifest.scripts['build'] !== undefined) {
    plan.push({ name: 'npm run build', argv: ['npm', 'run', 'build'] });
  }
  return plan;
}

async function planPython(dir: string): Promise<BuildCommand[]> {
  const requirements = join(dir, 'requirements.txt');
  const pip = join(dir, VENV_DIR, 'bin', 'pip');
  const pipFlags = ['--disable-pip-version-check', '--no-input'] as const;
  let install: BuildCommand | undefined;
  if (await isFile(requirements)) {
    if (await hasRequirementLine(requirements)) {
      install = {
        name: 'pip install',
        argv: [pip, 'install', ...pipFlags, '-r', 'requirements.txt'],
      };
    }
  } else if (await isFile(join(dir, 'pyproject.toml'))) {
    install = { name: 'pip install', argv: [pip, 'install', ...pipFlags, '.'] };
  }
  // --without-pip when nothing is installed: seeding pip takes seconds, and works only where
  // Debian's python3-venv is installed. --clear: a .venv that came in the bundle holds paths
  // of the uploader's machine and is rebuilt rather than reused.
  const venv: BuildCommand = {
    name: 'python3 -m venv',
    argv: ['python3', '-m', 'venv', '--clear', ...(install ? [] : ['--without-pip']), VENV_DIR],
  };
  return install ? [venv, install] : [venv];
}

/** Whether a requirements file has a line other than blanks and comments. */
async function hasRequirementLine(file: string): Promise<boolean> {
  const info = await lstat(file);
  // A file this large surely names something; pip will read it either way.
  if (info.size > REQUIREMENTS_MAX_BYTES) return true;
  const text = await readFile(file, 'utf8');
  return text.split(/\r?\n/).some((line) => line.replace(/(^|\s)#.*$/, '').trim() !== '');
}

async function isFile(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isFile() ?? false;
}
