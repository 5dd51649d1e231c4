// What the client prints: tables (cli-table3, borderless), JSON for --json, colour only when
// stdout is a terminal (and NO_COLOR is unset).
import Table from 'cli-table3';

/** Whether stdout is a terminal a person reads. */
export function isInteractive(): boolean {
  return Boolean(process.stdout.isTTY);
}

const useColour = (): boolean => isInteractive() && !process.env['NO_COLOR'];

const paint =
  (open: number, close: number) =>
  (text: string): string =>
    useColour() ? `\u001b[${open}m${text}\u001b[${close}m` : text;

/** ANSI styles that are no-ops off a terminal. */
export const colour = Object.freeze({
  bold: paint(1, 22),
  dim: paint(2, 22),
  red: paint(31, 39),
  green: paint(32, 39),
  yellow: paint(33, 39),
  cyan: paint(36, 39),
});

/** Writes a line to stdout. */
export function line(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Writes a note for people to stderr (never data a script parses). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Prints a value as indented JSON, for --json. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** What a table cell or field shows; null and undefined show as '-'. */
export type Cell = string | number | boolean | null | undefined;

/** Prints rows under a header as aligned columns; `empty` when there are no rows. */
export function printTable(
  head: readonly string[],
  rows: readonly (readonly Cell[])[],
  empty?: string,
): void {
  if (rows.length === 0) {
    if (empty) note(empty);
    return;
  }
  const table = new Table({
    head: head.map((h) => colour.bold(h)),
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 },
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '',
    },
  });
  for (const row of rows)
    table.push(row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  // cli-table3 pads the last column too; people and `grep` are happier without.
  line(
    table
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n'),
  );
}

/** Prints `key: value` pairs, aligned. */
export function printFields(fields: readonly (readonly [string, Cell])[]): void {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  for (const [key, value] of fields) {
    line(
      `${colour.bold(`${key}:`.padEnd(width))} ${value === null || value === undefined ? '-' : String(value)}`,
    );
  }
}
