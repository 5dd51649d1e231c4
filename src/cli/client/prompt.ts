// Questions on a terminal: a line of text, a password that is not echoed, a confirmation.
import readline from 'node:readline';
import { UsageError } from './errors.js';

/** Whether stdin is a terminal a person can answer on. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY);
}

/** Asks a question on stderr and reads one line from the terminal. */
export async function ask(question: string, options: { hidden?: boolean } = {}): Promise<string> {
  if (!canPrompt()) throw new UsageError(`cannot ask '${question.trim()}' without a terminal`);
  const output = process.stderr;
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
  if (options.hidden) {
    // readline echoes through _writeToOutput; after the question, write nothing of the answer.
    const internal = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    internal._writeToOutput = (text: string) => {
      if (!asked) {
        output.write(text);
        asked = true;
      } else if (text.includes('\n') || text.includes('\r')) output.write('\n');
    };
  }
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/** Reads all of stdin (for --password-stdin), without its trailing newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
