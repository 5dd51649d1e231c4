// The ignore files of a deploy: .gitignore (in any directory) and .berthignore (at the root),
// with the common gitignore rules: comments, blank lines, `*`, `?`, `[...]`, `**`, a leading
// `/` (anchored), a trailing `/` (directories only) and `!` negation; the last match wins.

/** One compiled pattern of an ignore file. */
export interface IgnoreRule {
  /** The directory of the ignore file, relative to the root ('' at the root). */
  readonly base: string;
  readonly negate: boolean;
  readonly directoryOnly: boolean;
  readonly regex: RegExp;
  /** The line as written, for messages. */
  readonly source: string;
}

/** A glob body (no leading/trailing slash handling) as a regular expression source. */
function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const before = i === 0 || glob[i - 1] === '/';
        const after = i + 2 === glob.length || glob[i + 2] === '/';
        if (before && after) {
          if (i + 2 === glob.length) {
            out += '.*'; // `foo/**`: everything inside
          } else {
            out += '(?:.*/)?'; // `**/` : zero or more directories
            i++; // the slash is part of the group
          }
          i++;
          continue;
        }
      }
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
      } else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += (glob[i + 1] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return out;
}

/** Compiles the lines of one ignore file found in directory `base` ('' = the root). */
export function parseIgnoreFile(text: string, base = ''): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    // Trailing spaces are dropped unless escaped with a backslash.
    let pattern = raw.replace(/(?<!\\)\s+$/, '');
    if (pattern === '' || pattern.startsWith('#')) continue;
    let negate = false;
    if (pattern.startsWith('!')) {
      negate = true;
      pattern = pattern.slice(1);
    } else if (pattern.startsWith('\\!') || pattern.startsWith('\\#')) {
      pattern = pattern.slice(1);
    }
    let directoryOnly = false;
    if (pattern.endsWith('/')) {
      directoryOnly = true;
      pattern = pattern.replace(/\/+$/, '');
    }
    if (pattern === '') continue;
    // A slash at the start or in the middle anchors the pattern to the file's directory.
    const anchored = pattern.includes('/');
    pattern = pattern.replace(/^\/+/, '');
    const body = globToRegex(pattern);
    const regex = new RegExp(`^${anchored ? '' : '(?:.*/)?'}${body}$`);
    rules.push({ base, negate, directoryOnly, regex, source: raw });
  }
  return rules;
}

/** Decides, path by path, what an upload leaves out. */
export class IgnoreMatcher {
  readonly #rules: IgnoreRule[] = [];

  constructor(rules: readonly IgnoreRule[] = []) {
    this.#rules.push(...rules);
  }

  /** Adds rules; later rules win over earlier ones (a deeper .gitignore over a shallower). */
  add(rules: readonly IgnoreRule[]): void {
    this.#rules.push(...rules);
  }

  /**
   * Whether `relativePath` (slash-separated, from the root) is ignored by its own name. A
   * path inside an ignored directory is ignored too; walkers do not descend into one (as git,
   * a file cannot be re-included when its directory is excluded), and `ignores` checks the
   * parents as well.
   */
  ignores(relativePath: string, isDirectory: boolean): boolean {
    const parts = relativePath.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      if (this.#matches(parts.slice(0, i).join('/'), true)) return true;
    }
    return this.#matches(parts.join('/'), isDirectory);
  }

  #matches(relativePath: string, isDirectory: boolean): boolean {
    if (relativePath === '.git' || relativePath.endsWith('/.git')) return true;
    let ignored = false;
    for (const rule of this.#rules) {
      if (rule.directoryOnly && !isDirectory) continue;
      let subject = relativePath;
      if (rule.base) {
        if (!relativePath.startsWith(`${rule.base}/`)) continue;
        subject = relativePath.slice(rule.base.length + 1);
      }
      if (rule.regex.test(subject)) ignored = !rule.negate;
    }
    return ignored;
  }
}
