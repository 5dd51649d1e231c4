import { randomBytes } from 'node:crypto';
import type { Release } from '../../domain/releases/index.js';
import type { FormationEntry } from '../../domain/formation/index.js';
import {
  DEFAULT_RESTART_POLICY,
  type AppAccount,
  type UnitLimits,
  type UnitArtifacts,
  type UnitSpec,
} from '../../runtime/index.js';

/** What every unit of one process type of a release shares. */
export interface ProcessTemplate {
  readonly appName: string;
  /** Whom the app's processes run as, where the runtime isolates apps by user. */
  readonly account: AppAccount;
  readonly release: Release;
  readonly processType: string;
  readonly slugDir: string;
  /** The release's config snapshot with the type's own config over it. */
  readonly config: Readonly<Record<string, string>>;
  readonly formation: FormationEntry;
  /** How the runtime runs releases (slug directories or images). */
  readonly artifacts: UnitArtifacts;
}

/** A formation entry's sizes as a unit's limits. */
export function limitsOf(formation: FormationEntry): UnitLimits {
  return {
    ...(formation.memoryBytes === null ? {} : { memoryBytes: formation.memoryBytes }),
    ...(formation.cpu === null ? {} : { cpus: formation.cpu }),
  };
}

/** Unit ids: readable in `ps`, unique across restarts of the controller. */
export function unitId(
  appName: string,
  release: number,
  processType: string,
  index: number,
): string {
  return `${appName}-v${release}-${processType}-${index}-${randomBytes(3).toString('hex')}`;
}

/** What every process of a template gets: the build's PATH, then the config over it. */
export function processEnv(template: ProcessTemplate): Record<string, string> {
  return { ...template.artifacts.baseEnv(template), ...template.config };
}

/**
 * The spec of unit `index` of a process type. The command comes from the release; `npm
 * start` is resolved to the start script so that signals reach the app, not npm.
 */
export async function unitSpec(template: ProcessTemplate, index: number): Promise<UnitSpec> {
  const { release, processType } = template;
  const command = release.processes[processType];
  if (command === undefined) throw new Error(`release v${release.version} has no ${processType}`);
  const env = processEnv(template);
  const limits = limitsOf(template.formation);
  return {
    id: unitId(template.appName, release.version, processType, index),
    app: template.appName,
    release: release.version,
    processType,
    index,
    command: await template.artifacts.commandOf(template, command),
    artifact: await template.artifacts.artifactOf(template),
    env,
    restart: DEFAULT_RESTART_POLICY,
    limits,
    account: template.account,
  };
}
