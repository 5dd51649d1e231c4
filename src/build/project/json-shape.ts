/** Where a JSON text nests too deep: 0-based position (UTF-16 units), 1-based line and column. */
export interface DeepNesting {
  readonly position: number;
  readonly line: number;
  readonly column: number;
}

/**
 * Finds the first bracket of a valid JSON text that opens a level deeper than `maxDepth`, in
 * one pass that skips strings. JSON.parse takes any depth; this keeps a hostile file from
 * reaching code that walks the value (and makes the refusal name the place).
 */
export function nestingTooDeep(text: string, maxDepth: number): DeepNesting | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, stepping over escapes.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c) i++;
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > maxDepth) return { position: i, line, column: i - lineStart + 1 };
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return undefined;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * A JSON path as messages name it: `env.SECRET_KEY.required`, `addons[2].plan`; a key that is
 * not a plain name is bracketed and quoted (`env["a b"]`), at most 60 characters of it.
 */
export function jsonPath(segments: readonly string[]): string {
  let path = '';
  for (const segment of segments) {
    if (/^[a-z]+\[\d+\]$/.test(segment) || (PLAIN_KEY.test(segment) && segment.length <= 60)) {
      path += path === '' ? segment : `.${segment}`;
    } else {
      const shown = segment.length > 60 ? `${segment.slice(0, 59)}…` : segment;
      path += `[${JSON.stringify(shown)}]`;
    }
  }
  return path;
}
