import { quote } from '../quote.js';
import type { ProcessCommand } from '../../domain/releases/index.js';
import { PROCESS_TYPE_PATTERN } from './model.js';

/** Longest command accepted, in characters. */
export const MAX_COMMAND_LENGTH = 4096;

// eslint-disable-next-line no-control-regex -- tabs are fine in a command; other controls are not
const CONTROL_EXCEPT_TAB = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Heroku's release phase: the process type that is a one-off per release, never a unit. */
export const RELEASE_PHASE_TYPE = 'release';

export interface CheckedProcesses {
  readonly processes: Record<string, ProcessCommand>;
  readonly processErrors: Record<string, string | null>;
  readonly formation: Record<string, number>;
  /** The `release` type's command: the release phase, in none of the maps above but errors. */
  readonly releaseCommand?: string;
}

/** Why a process type name is refused, or null. */
function typeProblem(type: string): string | null {
  return PROCESS_TYPE_PATTERN.test(type)
    ? null
    : `process type ${quote(type)} is not allowed: a type starts with a lowercase letter and ` +
        `holds only lowercase letters, digits and '-', at most 30 characters`;
}

/** Why a command is refused, or null. Berth's own (a static site, an image's CMD) are fine. */
function commandProblem(type: string, process: ProcessCommand): string | null {
  if (process.kind !== 'command') return null;
  const command = process.line;
  if (command.trim() === '') return `process ${quote(type)} has an empty command`;
  if (command.length > MAX_COMMAND_LENGTH) {
    return `the command of process ${quote(type)} has ${command.length} characters; at most ${MAX_COMMAND_LENGTH} are allowed`;
  }
  if (CONTROL_EXCEPT_TAB.test(command)) {
    return `the command of process ${quote(type)} contains a line break or control character`;
  }
  return null;
}

/**
 * Checks each process on its own: problems are reported per type (the deployment record's
 * processErrors) rather than thrown, so one bad process names itself without hiding the
 * others. The formation covers every declared type: web 1, others 0, unless berth.json's
 * formation says otherwise; a formation entry for an undeclared type is an error of that type.
 * A `release` type is Heroku's release phase: checked like the others, it is returned apart, and
 * has no formation (a count the manifests give it is not read).
 */
export function checkProcesses(
  declared: readonly (readonly [string, ProcessCommand])[],
  formationOverrides: readonly (readonly [string, number])[],
): CheckedProcesses {
  // Maps, then fromEntries: type names are the uploader's, and "__proto__" must stay a key.
  const processes = new Map<string, ProcessCommand>();
  const errors = new Map<string, string | null>();
  const formation = new Map<string, number>();
  let releaseCommand: string | undefined;
  for (const [type, command] of declared) {
    if (type === RELEASE_PHASE_TYPE && command.kind === 'command') {
      errors.set(type, commandProblem(type, command));
      releaseCommand = command.line;
      continue;
    }
    processes.set(type, command);
    errors.set(type, typeProblem(type) ?? commandProblem(type, command));
    formation.set(type, type === 'web' ? 1 : 0);
  }
  for (const [type, count] of formationOverrides) {
    if (type === RELEASE_PHASE_TYPE && releaseCommand !== undefined) continue;
    if (processes.has(type)) {
      formation.set(type, count);
    } else {
      errors.set(
        type,
        typeProblem(type) ??
          `the formation scales process ${quote(type)}, but no process ${quote(type)} is declared`,
      );
    }
  }
  return {
    processes: Object.fromEntries(processes),
    processErrors: Object.fromEntries(errors),
    formation: Object.fromEntries(formation),
    ...(releaseCommand !== undefined ? { releaseCommand } : {}),
  };
}
