import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';

/** Raw extended attributes are binary and may hold NULs; node-tar ignores them anyway. */
const BINARY_VALUE_KEY = /^SCHILY\.xattr\./;

/**
 * A pax line as node-tar reads one (`<length> <key>=<value>`, the length counting the line and
 * its newline in bytes), or undefined for a line node-tar would skip.
 */
function paxRecord(line: string): { key: string; value: string } | undefined {
  const length = Number.parseInt(line, 10);
  if (length !== Buffer.byteLength(line) + 1) return undefined;
  const record = line.slice(`${length} `.length);
  const equals = record.indexOf('=');
  if (equals <= 0) return undefined;
  return { key: record.slice(0, equals), value: record.slice(equals + 1) };
}

/**
 * Checks the raw text of an extended tar header (pax records or a GNU long name) before
 * node-tar reads it: node-tar cuts a name at its first NUL, so `evil\0name.txt` would be
 * extracted as `evil`. A NUL anywhere but in the trailing padding or in a raw extended
 * attribute is refused, as a zip entry's control characters are (`INVALID_PATH`).
 */
export function checkExtendedHeader(text: string): void {
  for (const line of text.replace(/\0+$/, '').split('\n')) {
    if (!line.includes('\0')) continue;
    const record = paxRecord(line);
    if (record && BINARY_VALUE_KEY.test(record.key)) continue;
    const name =
      record && (record.key === 'path' || record.key === 'linkpath') ? record.value : line;
    throw new BundleError(
      BundleErrorReasons.INVALID_PATH,
      `entry ${quote(name)} contains a NUL byte (in an extended tar header), which bundle ` +
        `paths may not hold`,
    );
  }
}
