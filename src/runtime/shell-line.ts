/**
 * Words that make a line more than one program to run: shell keywords, and builtins that are
 * not programs (so `exec cd x` or `exec export A=1` would fail where the line alone works).
 */
const SHELL_WORDS = new Set([
  '!',
  '.',
  ':',
  '[[',
  '{',
  '}',
  'alias',
  'break',
  'case',
  'cd',
  'continue',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'eval',
  'exec',
  'exit',
  'export',
  'fi',
  'for',
  'function',
  'if',
  'local',
  'read',
  'readonly',
  'return',
  'select',
  'set',
  'shift',
  'source',
  'then',
  'time',
  'trap',
  'ulimit',
  'umask',
  'unset',
  'until',
  'wait',
  'while',
]);

/**
 * Anything that makes the line a list, a pipeline, a background job, a subshell, a command
 * substitution, a redirection or more than one line. Conservative on purpose: a line that is
 * left alone still runs as it did, only as a child of sh.
 */
const COMPOUND = /[;&|()`<>\n\r]/;

/** A first word that names a program: a plain name or path (no quoting, no expansion). */
const PROGRAM_WORD = /^[A-Za-z0-9_./+@-]+$/;

/**
 * The line `/bin/sh -c` should run for a Procfile line: `exec LINE` when the line is one
 * simple command, so that the program replaces sh and is the unit's process (it gets the stop
 * signal itself, and its exit is the unit's); the line as it stands otherwise. Never splices
 * anything but the word `exec` into the app's own line.
 */
export function shellLine(line: string): string {
  const trimmed = line.trim();
  if (trimmed === '' || COMPOUND.test(trimmed)) return line;
  const first = trimmed.split(/[ \t]+/, 1)[0] ?? '';
  // `FOO=1 node x`: exec would take the assignment for the program.
  if (first.includes('=') || !PROGRAM_WORD.test(first) || SHELL_WORDS.has(first)) return line;
  return `exec ${trimmed}`;
}
