import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LogLine, LogQuery } from '../driver.js';

/** How often followLogs looks at the files when fs.watch says nothing (it may miss events). */
const FOLLOW_POLL_MS = 1000;
const READ_CHUNK_BYTES = 64 * 1024;
const DEFAULT_TAIL = 100;

function parseLine(text: string): LogLine | undefined {
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return undefined;
  }
}

async function listLogFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith('.log') || name.endsWith('.log.1'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The last `count` whole lines of a file, read backwards so that a big file costs little. */
async function readLastLines(file: string, count: number): Promise<string[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return []; // rotated or removed since we listed it
  }
  try {
    let position = (await handle.stat()).size;
    let text = '';
    while (position > 0) {
      const length = Math.min(READ_CHUNK_BYTES, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, position);
      // Bytes, not text, are joined first: a chunk edge may cut a UTF-8 sequence.
      text = buffer.toString('latin1') + text;
      if (text.split('\n').length > count + 1) break;
    }
    const lines = Buffer.from(text, 'latin1').toString('utf8').split('\n');
    if (position > 0) lines.shift(); // the first piece may be the end of an older line
    return lines.filter((line) => line !== '').slice(-count);
  } finally {
    await handle.close();
  }
}

/** The last `tail` lines of an app's logs (current and rotated files), merged by time. */
export async function readLogLines(dir: string, query: LogQuery): Promise<LogLine[]> {
  const tail = query.tail ?? DEFAULT_TAIL;
  if (tail <= 0) return [];
  // Rotated files first, so that lines of the same millisecond keep their order.
  const files = (await listLogFiles(dir)).sort((a, b) =>
    a.replace(/\.1$/, '') === b.replace(/\.1$/, '') ? b.length - a.length : a.localeCompare(b),
  );
  const lines: LogLine[] = [];
  for (const file of files) {
    for (const text of await readLastLines(path.join(dir, file), tail)) {
      const line = parseLine(text);
      if (line && (query.processType === undefined || line.processType === query.processType)) {
        lines.push(line);
      }
    }
  }
  lines.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return lines.slice(-tail);
}

interface FileCursor {
  ino: number;
  offset: number;
}

async function readRange(file: string, from: number, to: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, to - from));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Calls `onLine` for each line appended to the app's log files from now on, until `signal`
 * aborts. A file that rotated is read to its end under its new name (`.1`) first.
 */
export async function followLogLines(
  dir: string,
  query: LogQuery,
  onLine: (line: LogLine) => void,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  await mkdir(dir, { recursive: true });
  const cursors = new Map<string, FileCursor>();
  for (const name of await listLogFiles(dir)) {
    if (!name.endsWith('.log')) continue;
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info) cursors.set(name, { ino: info.ino, offset: info.size });
  }

  let failure: Error | undefined;
  const emit = (bytes: Buffer): number => {
    const end = bytes.lastIndexOf(0x0a);
    if (end === -1) return 0;
    for (const text of bytes.subarray(0, end).toString('utf8').split('\n')) {
      const line = parseLine(text);
      if (line && (query.processType === undefined || line.processType === query.processType)) {
        onLine(line);
      }
    }
    return end + 1;
  };

  const scanFile = async (name: string): Promise<void> => {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info) return;
    let cursor = cursors.get(name);
    if (cursor && (cursor.ino !== info.ino || info.size < cursor.offset)) {
      const rotated = await stat(`${file}.1`).catch(() => undefined);
      if (rotated && rotated.ino === cursor.ino) {
        emit(await readRange(`${file}.1`, cursor.offset, rotated.size));
      }
      cursor = undefined;
    }
    cursor ??= { ino: info.ino, offset: 0 };
    cursors.set(name, cursor);
    if (info.size > cursor.offset) {
      cursor.offset += emit(await readRange(file, cursor.offset, info.size));
    }
  };

  let scanning: Promise<void> | undefined;
  let again = false;
  const scan = (): void => {
    if (scanning) {
      again = true;
      return;
    }
    scanning = (async () => {
      do {
        again = false;
        for (const name of await listLogFiles(dir)) {
          if (signal.aborted) return;
          if (name.endsWith('.log')) await scanFile(name);
        }
      } while (again && !signal.aborted);
    })()
      .catch((error: unknown) => {
        failure ??= error instanceof Error ? error : new Error(String(error));
        stopped();
      })
      .finally(() => (scanning = undefined));
  };

  let watcher: FSWatcher | undefined;
  let stopped: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (stopped = resolve));
  signal.addEventListener('abort', stopped, { once: true });
  try {
    watcher = watch(dir, () => scan());
    watcher.on('error', () => undefined); // the poll below still runs
  } catch {
    // No watcher here (some file systems): the poll alone will do.
  }
  const poll = setInterval(scan, FOLLOW_POLL_MS);
  scan(); // lines written between our stat and the watcher's start
  try {
    await ended;
  } finally {
    signal.removeEventListener('abort', stopped);
    watcher?.close();
    clearInterval(poll);
    await scanning;
  }
  if (failure !== undefined) throw failure;
}
