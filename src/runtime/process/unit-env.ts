import { ErrorCodes, InputError } from '../../errors/index.js';
import type { UnitCommand } from '../driver.js';
import { shellLine } from '../shell-line.js';
import { berthVariables, type BerthVariables } from '../unit-variables.js';

/** Where a command is found when neither the app nor the controller says. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * A unit's environment: a small safe base, the app's config vars, then the runtime's own
 * variables. Never the controller's whole environment: it holds BERTH_MASTER_KEY and the
 * database URL.
 */
export function unitEnvironment(
  config: Readonly<Record<string, string>>,
  berth: BerthVariables,
): Record<string, string> {
  const base: Record<string, string> = {
    PATH: process.env['PATH'] ?? FALLBACK_PATH,
    LANG: process.env['LANG'] ?? 'C.UTF-8',
  };
  const home = process.env['HOME'];
  if (home !== undefined) base['HOME'] = home;
  return {
    ...base,
    ...config,
    ...berthVariables(berth),
  };
}

/**
 * The argument vector of a command. A Procfile line is the app's own code and runs under
 * /bin/sh, with `exec` in front when it is one simple command (see shellLine), so that the
 * app is the unit's process; nothing of Berth's is ever spliced into a shell string.
 */
export function commandArgv(command: UnitCommand): string[] {
  switch (command.kind) {
    case 'shell':
      return ['/bin/sh', '-c', shellLine(command.line)];
    case 'exec':
      return [...command.argv];
    case 'image':
      // validateUnitSpec lets 'image' through with image artifacts only, which directoryOf refuses.
      throw new InputError(
        'the process runtime has no image command to run',
        ErrorCodes.UNIT_SPEC_INVALID,
      );
  }
}
