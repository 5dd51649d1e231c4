import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { shellCommand, type ProcessCommand } from '../../domain/releases/index.js';
import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';
import { APP_JSON_MAX_BYTES, parseAppJson, type AppJson } from './app-json.js';
import { BERTH_JSON_MAX_BYTES, parseBerthJson, type BerthJson } from './berth-json.js';
import { mergeManifests } from './merge-manifests.js';
import type { ProcessSource, Project } from './model.js';
import { checkProcesses } from './process-rules.js';
import { PROCFILE_MAX_BYTES, parseProcfile } from './procfile.js';
import { readProjectFile } from './project-files.js';
import { defaultProcesses, detectStack } from './stack.js';

/**
 * Reads an extracted bundle: berth.json, Heroku's app.json, the Procfile, the stack.
 * Structural problems (bad JSON, unknown berth.json fields, a wrong type in app.json, a
 * malformed Procfile line, a node app without a start script) throw BundleError; problems of
 * single processes land in `processErrors` instead. berth.json wins over app.json field by
 * field (mergeManifests).
 */
export async function readProject(dir: string): Promise<Project> {
  const berth = await readBerthJson(dir);
  const appJson = await readAppJson(dir);
  if (berth?.staticRoot !== undefined) await assertFolder(dir, berth.staticRoot);
  const stack = await detectStack(dir, berth?.staticRoot);

  let declared: readonly (readonly [string, ProcessCommand])[];
  let processSource: ProcessSource;
  const procfile = berth?.processes ? undefined : await readProcfile(dir);
  if (berth?.processes) {
    declared = berth.processes.map(([type, line]) => [type, shellCommand(line)] as const);
    processSource = 'berth.json';
  } else if (procfile) {
    declared = procfile.map(([type, line]) => [type, shellCommand(line)] as const);
    processSource = 'Procfile';
  } else {
    declared = await defaultProcesses(dir, stack);
    processSource = 'stack';
  }

  const merged = mergeManifests(berth, appJson, new Set(declared.map(([type]) => type)));
  const { processes, processErrors, formation, releaseCommand } = checkProcesses(
    declared,
    merged.counts,
  );
  return {
    metadata: merged.metadata,
    stack,
    processes,
    processSource,
    processErrors,
    env: merged.env,
    ...(berth?.healthcheck ? { healthcheck: berth.healthcheck } : {}),
    addons: merged.addons,
    formation,
    ...(berth?.staticRoot === undefined ? {} : { staticRoot: berth.staticRoot }),
    sizes: Object.fromEntries(merged.sizes),
    cron: merged.cron,
    ...(releaseCommand === undefined ? {} : { releaseCommand }),
    scripts: appJson?.scripts ?? {},
    warnings: merged.warnings,
  };
}

/** berth.json's `static.root` must name a folder the bundle has (links not followed). */
async function assertFolder(dir: string, folder: string): Promise<void> {
  const info = await lstat(join(dir, folder)).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new BundleError(
      BundleErrorReasons.BERTH_JSON_SCHEMA,
      `berth.json: 'static.root' names ${quote(folder)}, which is not a folder of the bundle`,
    );
  }
}

async function readBerthJson(dir: string): Promise<BerthJson | undefined> {
  const file = await readProjectFile(dir, 'berth.json', BERTH_JSON_MAX_BYTES);
  switch (file.kind) {
    case 'missing':
      return undefined;
    case 'not-a-file':
      throw new BundleError(
        BundleErrorReasons.BERTH_JSON_INVALID,
        'berth.json is not a regular file',
      );
    case 'too-large':
      throw new BundleError(
        BundleErrorReasons.BERTH_JSON_TOO_LARGE,
        'berth.json is larger than 64 KiB, the most it may hold',
      );
    case 'text':
      return parseBerthJson(file.text);
  }
}

async function readAppJson(dir: string): Promise<AppJson | undefined> {
  const file = await readProjectFile(dir, 'app.json', APP_JSON_MAX_BYTES);
  switch (file.kind) {
    case 'missing':
      return undefined;
    case 'not-a-file':
      throw new BundleError(BundleErrorReasons.APP_JSON_INVALID, 'app.json is not a regular file');
    case 'too-large':
      throw new BundleError(
        BundleErrorReasons.APP_JSON_TOO_LARGE,
        'app.json is larger than 128 KiB, the most it may hold',
      );
    case 'text':
      return parseAppJson(file.text);
  }
}

async function readProcfile(dir: string): Promise<[string, string][] | undefined> {
  const file = await readProjectFile(dir, 'Procfile', PROCFILE_MAX_BYTES);
  switch (file.kind) {
    case 'missing':
      return undefined;
    case 'not-a-file':
      throw new BundleError(BundleErrorReasons.PROCFILE_INVALID, 'Procfile is not a regular file');
    case 'too-large':
      throw new BundleError(
        BundleErrorReasons.PROCFILE_INVALID,
        'Procfile is larger than 64 KiB, the most it may hold',
      );
    case 'text':
      return parseProcfile(file.text);
  }
}
