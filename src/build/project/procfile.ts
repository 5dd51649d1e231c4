import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';

/** A Procfile may be at most this large (64 KiB). */
export const PROCFILE_MAX_BYTES = 64 * 1024;

/**
 * Parses a Procfile: one `type: command` per line; blank lines and lines starting with '#'
 * are skipped. Returns [type, command] in file order. Throws BundleError (PROCFILE_INVALID)
 * naming the line of a line without ':', without a type, or repeating a type, and
 * PROCFILE_EMPTY when no line declares a process. Type names and commands are checked later,
 * per process, with berth.json's.
 */
export function parseProcfile(text: string): [string, string][] {
  const processes: [string, string][] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) {
      throw new BundleError(
        BundleErrorReasons.PROCFILE_INVALID,
        `Procfile line ${lineNumber} is not 'type: command' (it has no ':'): ${quote(line)}`,
      );
    }
    const type = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (type === '') {
      throw new BundleError(
        BundleErrorReasons.PROCFILE_INVALID,
        `Procfile line ${lineNumber} has no process type before ':'`,
      );
    }
    const earlier = firstLine.get(type);
    if (earlier !== undefined) {
      throw new BundleError(
        BundleErrorReasons.PROCFILE_INVALID,
        `Procfile line ${lineNumber} declares process ${quote(type)} again (first on line ${earlier})`,
      );
    }
    firstLine.set(type, lineNumber);
    processes.push([type, command]);
  });
  if (processes.length === 0) {
    throw new BundleError(BundleErrorReasons.PROCFILE_EMPTY, 'Procfile defines no process');
  }
  return processes;
}
