/** Where a JSON text first breaks the grammar, and what was expected there. */
export interface JsonSyntaxError {
  /** 0-based offset in UTF-16 code units, as JSON.parse counts. */
  readonly position: number;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly problem: string;
}

/** Unwinds the scanner from the first error; never leaves this module. */
class Failure extends Error {
  constructor(
    readonly position: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

const MAX_DEPTH = 1000;

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9' && c.length === 1;
}

/**
 * Finds the first syntax error of a JSON text, or undefined when it has none. JSON.parse's
 * own messages differ between Node versions, often lack a position and quote the input, which
 * may be long; this scanner gives a position and a short description every time.
 */
export function locateJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (problem: string): never => {
    throw new Failure(i, problem);
  };
  const describeHere = () => {
    if (i >= text.length) return 'the end of the text';
    const c = text.charAt(i);
    if (c === '\n' || c === '\r') return 'a line break';
    return c.charCodeAt(0) < 0x20 ? 'a control character' : `'${c}'`;
  };
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in a string (escape it)');
      if (c === 0x5c) {
        const escape = text.charAt(i + 1);
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            fail('bad \\u escape (four hex digits expected)');
          }
          i += 6;
        } else if ('"\\/bfnrt'.includes(escape) && escape !== '') {
          i += 2;
        } else {
          i++;
          fail('bad escape in a string');
        }
      } else {
        i++;
      }
    }
  };
  const digits = (what: string) => {
    if (!isDigit(text.charAt(i))) fail(`expected a digit ${what}, found ${describeHere()}`);
    while (isDigit(text.charAt(i))) i++;
  };
  const number = () => {
    if (text.charAt(i) === '-') i++;
    if (text.charAt(i) === '0') i++;
    else digits("after '-'");
    if (text.charAt(i) === '.') {
      i++;
      digits('after the decimal point');
    }
    if (text.charAt(i) === 'e' || text.charAt(i) === 'E') {
      i++;
      if (text.charAt(i) === '+' || text.charAt(i) === '-') i++;
      digits('in the exponent');
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`);
    skipSpace();
    const c = text.charAt(i);
    if (c === '{') {
      i++;
      skipSpace();
      if (text.charAt(i) === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (text.charAt(i) !== '"')
          fail(`expected a property name in double quotes, found ${describeHere()}`);
        string();
        skipSpace();
        if (text.charAt(i) !== ':')
          fail(`expected ':' after a property name, found ${describeHere()}`);
        i++;
        value(depth + 1);
        skipSpace();
        if (text.charAt(i) === ',') {
          i++;
          continue;
        }
        if (text.charAt(i) === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}' after a property value, found ${describeHere()}`);
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (text.charAt(i) === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        skipSpace();
        if (text.charAt(i) === ',') {
          i++;
          continue;
        }
        if (text.charAt(i) === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']' after an array element, found ${describeHere()}`);
      }
    }
    if (c === '"') return string();
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    if (c === '-' || isDigit(c)) return number();
    fail(`expected a value, found ${describeHere()}`);
  };

  try {
    value(0);
    skipSpace();
    if (i < text.length) fail(`unexpected ${describeHere()} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    const before = text.slice(0, error.position);
    const line = before.split('\n').length;
    const column = error.position - (before.lastIndexOf('\n') + 1) + 1;
    return { position: error.position, line, column, problem: error.problem };
  }
}
