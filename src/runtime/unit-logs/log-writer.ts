import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';

// The writing half of the log format: the process runtime's one-offs and the container
// runtime's log capture write with it; the process runtime's supervisor.js writes units' logs
// the same way with its own copy (node: imports only).

/** Longer lines are cut: one runaway line must not fill the log. */
export const MAX_LINE_CHARS = 16 * 1024;

/**
 * Splits a stream of text into lines, cutting any longer than MAX_LINE_CHARS and ending it
 * with '…'; the rest of a cut line is dropped.
 */
export class LineSplitter {
  readonly #onLine: (text: string) => void;
  #pending = '';
  #cutting = false;

  constructor(onLine: (text: string) => void) {
    this.#onLine = onLine;
  }

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      if (newline === -1) break;
      this.#add(chunk.slice(start, newline));
      this.#end();
      start = newline + 1;
    }
    this.#add(chunk.slice(start));
  }

  /** Emits a last line that had no newline. */
  flush(): void {
    if (this.#pending !== '') this.#end();
  }

  #add(text: string): void {
    if (this.#cutting) return;
    this.#pending += text;
    if (this.#pending.length > MAX_LINE_CHARS) {
      this.#onLine(`${this.#pending.slice(0, MAX_LINE_CHARS)}…`);
      this.#pending = '';
      this.#cutting = true;
    }
  }

  #end(): void {
    const text = this.#pending.endsWith('\r') ? this.#pending.slice(0, -1) : this.#pending;
    if (!this.#cutting) this.#onLine(text);
    this.#pending = '';
    this.#cutting = false;
  }
}

/**
 * An append-only file of lines that is renamed to `<file>.1` (replacing the older one) when
 * the next line would take it past `limitBytes`. Writes are synchronous so that lines keep
 * their order and a reader sees whole lines.
 */
export class RotatingLogFile {
  readonly #file: string;
  readonly #limit: number;
  #fd: number;
  #size: number;

  constructor(file: string, limitBytes: number) {
    this.#file = file;
    this.#limit = limitBytes;
    this.#fd = openSync(file, 'a', 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  append(line: string): void {
    const bytes = Buffer.from(`${line}\n`);
    if (this.#size > 0 && this.#size + bytes.length > this.#limit) {
      closeSync(this.#fd);
      renameSync(this.#file, `${this.#file}.1`);
      this.#fd = openSync(this.#file, 'a', 0o600);
      this.#size = 0;
    }
    writeSync(this.#fd, bytes);
    this.#size += bytes.length;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
