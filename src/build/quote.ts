/**
 * Text from a bundle as it may appear in a message: control characters escaped, at most 120
 * characters. Names, commands and parser complaints come from the uploader's bytes.
 */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters on purpose
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return escaped.length > 120 ? `${escaped.slice(0, 119)}…` : escaped;
}

/** `visible(text)` in single quotes: how messages name entries, fields and process types. */
export function quote(text: string): string {
  return `'${visible(text)}'`;
}
