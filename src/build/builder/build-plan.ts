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

/** The files that pin a node project's dependency tree, in npm's order of preference. */
const NODE_LOCK_FILES = ['npm-shrinkwrap.json', 'package-lock.json'] as const;

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

/**
 * What a node project needs, decided from its files; the slug builder runs these commands in
 * the bundle, the image builder writes them as RUN steps of a generated Dockerfile.
 */
export interface NodeBuildSteps {
  /** `npm ci` or `npm install`, or undefined when package.json declares no dependency. */
  readonly install: BuildCommand | undefined;
  /** The lock files present at the root (package-lock.json, npm-shrinkwrap.json). */
  readonly lockFiles: readonly string[];
  /** Folders inside the project that `file:` dependencies name; install needs them. */
  readonly localDependencies: readonly string[];
  /** `npm run build` when package.json has a build script. */
  readonly build: BuildCommand | undefined;
}

/** The install and build commands of a node project (see NodeBuildSteps). */
export async function nodeBuildSteps(dir: string): Promise<NodeBuildSteps> {
  const manifest = await readPackageManifest(dir);
  const lockFiles: string[] = [];
  for (const name of NODE_LOCK_FILES) if (await isFile(join(dir, name))) lockFiles.push(name);
  // npm ci installs exactly the lock file, or fails when it disagrees with package.json;
  // without a lock file only npm install can resolve the ranges.
  const install: BuildCommand | undefined = !manifest.hasDependencies
    ? undefined
    : lockFiles.length > 0
      ? { name: 'npm ci', argv: ['npm', 'ci', ...NPM_QUIET], fetchesPackages: true }
      : { name: 'npm install', argv: ['npm', 'install', ...NPM_QUIET], fetchesPackages: true };
  const build: BuildCommand | undefined =
    manifest.scripts['build'] !== undefined
      ? { name: 'npm run build', argv: ['npm', 'run', 'build'] }
      : undefined;
  return { install, lockFiles, localDependencies: manifest.localDependencies, build };
}

async function planNode(dir: string): Promise<BuildCommand[]> {
  const { install, build } = await nodeBuildSteps(dir);
  return [install, build].filter((command) => command !== undefined);
}

/**
 * What a python project installs: the packages requirements.txt names, the project itself
 * (pyproject.toml, installed as '.'), or nothing. Shared by the slug and image builders.
 */
export interface PythonBuildSteps {
  readonly install: 'requirements' | 'project' | undefined;
  /** pip's arguments after the pip executable, when something is installed. */
  readonly pipArgs: readonly string[] | undefined;
  /** `python3 -m venv`'s arguments before the directory: --without-pip when nothing is installed. */
  readonly venvArgs: readonly string[];
}

/** The install decision of a python project (see PythonBuildSteps). */
export async function pythonBuildSteps(dir: string): Promise<PythonBuildSteps> {
  const pipFlags = ['--disable-pip-version-check', '--no-input'] as const;
  let install: PythonBuildSteps['install'];
  let pipArgs: string[] | undefined;
  if (await isFile(join(dir, 'requirements.txt'))) {
    if (await hasRequirementLine(join(dir, 'requirements.txt'))) {
      install = 'requirements';
      pipArgs = ['install', ...pipFlags, '-r', 'requirements.txt'];
    }
  } else if (await isFile(join(dir, 'pyproject.toml'))) {
    install = 'project';
    pipArgs = ['install', ...pipFlags, '.'];
  }
  // --without-pip when nothing is installed: seeding pip takes seconds, and works only where
  // Debian's python3-venv is installed. --clear: a .venv that came in the bundle holds paths
  // of the uploader's machine and is rebuilt rather than reused.
  const venvArgs = ['-m', 'venv', '--clear', ...(install ? [] : ['--without-pip'])];
  return { install, pipArgs, venvArgs };
}

async function planPython(dir: string): Promise<BuildCommand[]> {
  const { pipArgs, venvArgs } = await pythonBuildSteps(dir);
  const venv: BuildCommand = { name: 'python3 -m venv', argv: ['python3', ...venvArgs, VENV_DIR] };
  if (pipArgs === undefined) return [venv];
  const pip = join(dir, VENV_DIR, 'bin', 'pip');
  return [venv, { name: 'pip install', argv: [pip, ...pipArgs], fetchesPackages: true }];
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
