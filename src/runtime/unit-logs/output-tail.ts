/** A one-off keeps this much of its output for the caller (the log keeps it all). */
export const OUTPUT_LIMIT_CHARS = 1024 * 1024;

/** Keeps the last OUTPUT_LIMIT_CHARS of a one-off's output, for its caller. */
export class OutputTail {
  #text = '';
  truncated = false;

  add(chunk: string): void {
    this.#text += chunk;
    if (this.#text.length > 2 * OUTPUT_LIMIT_CHARS) this.#trim();
  }

  get text(): string {
    this.#trim();
    return this.#text;
  }

  #trim(): void {
    if (this.#text.length <= OUTPUT_LIMIT_CHARS) return;
    this.#text = this.#text.slice(-OUTPUT_LIMIT_CHARS);
    this.truncated = true;
  }
}
