import { StringDecoder } from 'node:string_decoder';

/**
 * The longest line passed on, in characters. A minified bundle printed by a build script can
 * be megabytes without a newline; the task log keeps lines, not blobs.
 */
export const MAX_LINE_LENGTH = 4096;

/** How many output lines a BuildFailure keeps: enough for npm's or pip's error summary. */
export const LAST_LINES = 20;

/**
 * Splits one output stream into lines as bytes arrive. UTF-8 characters split across chunks
 * are decoded whole; a trailing '\r' is dropped; a line longer than MAX_LINE_LENGTH is passed
 * on cut (ending in '…') as soon as it is that long, and the rest of it is dropped, so a
 * stream without newlines never grows memory.
 */
export class LineSplitter {
  readonly #emit: (line: string) => void;
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  /** The current line was already passed on cut; drop text until its newline. */
  #dropping = false;

  constructor(emit: (line: string) => void) {
    this.#emit = emit;
  }

  write(chunk: Buffer): void {
    this.#take(this.#decoder.write(chunk));
  }

  /** Passes on the last line when the stream ended without a newline. */
  end(): void {
    this.#take(this.#decoder.end());
    if (!this.#dropping && this.#pending !== '') this.#line(this.#pending);
    this.#pending = '';
    this.#dropping = false;
  }

  #take(text: string): void {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      start = newline + 1;
      if (this.#dropping) this.#dropping = false;
      else this.#line(this.#pending + piece);
      this.#pending = '';
    }
    if (this.#dropping) return;
    this.#pending += text.slice(start);
    if (this.#pending.length > MAX_LINE_LENGTH) {
      this.#line(this.#pending);
      this.#pending = '';
      this.#dropping = true;
    }
  }

  #line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    this.#emit(line.length > MAX_LINE_LENGTH ? `${line.slice(0, MAX_LINE_LENGTH)}…` : line);
  }
}

/** The last `LAST_LINES` lines seen, oldest first. */
export class LastLines {
  readonly #lines: string[] = [];

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > LAST_LINES) this.#lines.shift();
  }

  get lines(): readonly string[] {
    return [...this.#lines];
  }
}
