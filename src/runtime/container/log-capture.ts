import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Engine } from '../../engine/index.js';
import type { LogLine } from '../driver.js';
import { LineSplitter, RotatingLogFile } from '../unit-logs/index.js';

/** Who a captured line belongs to. */
export interface CaptureTarget {
  readonly app: string;
  readonly release: number;
  readonly processType: string;
  readonly index: number;
  readonly unitId: string;
}

/**
 * How far a unit's log has been copied: the engine's timestamps of the last copied frame, to
 * the second, and how many frames of that second were copied. Podman's log timestamps have
 * whole seconds only, so a `since` of that second plus a count is what resumes without loss or
 * duplicates.
 */
export interface LogCursor {
  readonly second: string;
  readonly count: number;
}

export interface LogCaptureOptions {
  readonly engine: Engine;
  readonly containerName: string;
  readonly file: string;
  readonly fileLimitBytes: number;
  readonly target: CaptureTarget;
  readonly cursor: LogCursor | undefined;
  /** Called when the cursor moves, to persist it (throttled by the caller if it likes). */
  readonly onCursor: (cursor: LogCursor) => void;
  /** Every line written, e.g. a one-off's caller. */
  readonly onLine?: (line: LogLine) => void;
}

const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;

/**
 * Parses the Docker API's multiplexed log stream (non-TTY): 8-byte headers (stream, 0, 0, 0,
 * big-endian length), then the frame. Frames are handed over whole.
 */
class FrameParser {
  #buffer: Buffer = Buffer.alloc(0);
  readonly #onFrame: (stream: 'stdout' | 'stderr', payload: Buffer) => void;

  constructor(onFrame: (stream: 'stdout' | 'stderr', payload: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length < 8) return;
      const size = this.#buffer.readUInt32BE(4);
      if (this.#buffer.length < 8 + size) return;
      const kind = this.#buffer[0] === 2 ? 2 : 1;
      const payload = this.#buffer.subarray(8, 8 + size);
      this.#buffer = this.#buffer.subarray(8 + size);
      this.#onFrame(STREAMS[kind], payload);
    }
  }
}

/** Splits `2026-12-02T04:52:25.123456789Z text` into the second and the text. */
function splitTimestamp(frame: string): { second: string; text: string } {
  const space = frame.indexOf(' ');
  const stamp = space === -1 ? frame : frame.slice(0, space);
  return { second: stamp.slice(0, 19), text: space === -1 ? '' : frame.slice(space + 1) };
}

/**
 * Copies one container's output from the engine into the unit's log file (the same JSON lines
 * as the process runtime's), so that logs outlive the container and read the same way. It
 * follows the live stream while the container runs and catches up with a plain read when the
 * container has stopped (the engine ends a follow stream only a while after the exit).
 */
export class LogCapture {
  readonly #o: LogCaptureOptions;
  readonly #file: RotatingLogFile;
  readonly #splitters: Record<'stdout' | 'stderr', LineSplitter>;
  #cursor: LogCursor | undefined;
  /** Aborts the follow request (or stream) in flight. */
  #following: AbortController | undefined;
  #closed = false;

  constructor(options: LogCaptureOptions) {
    this.#o = options;
    this.#cursor = options.cursor;
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
    this.#file = new RotatingLogFile(options.file, options.fileLimitBytes);
    this.#splitters = {
      stdout: new LineSplitter((text) => this.#write('stdout', text)),
      stderr: new LineSplitter((text) => this.#write('stderr', text)),
    };
  }

  /** A line of Berth's own about the unit. */
  system(text: string): void {
    this.#write('system', text);
  }

  /**
   * Follows the container's output from the cursor on; a no-op while already following. It
   * does not wait for the stream: Podman answers a follow request only once the container
   * prints, and a unit that prints nothing must not hold up its start.
   */
  follow(): void {
    if (this.#following || this.#closed) return;
    const abort = new AbortController();
    this.#following = abort;
    const request = this.#o.engine.getContainer(this.#o.containerName).logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      since: this.#since(),
      abortSignal: abort.signal,
    }) as unknown as Promise<Readable>;
    request.then(
      (stream) => {
        if (this.#following !== abort) {
          stream.destroy();
          return;
        }
        abort.signal.addEventListener('abort', () => stream.destroy(), { once: true });
        const parser = this.#parser();
        stream.on('data', (chunk: Buffer) => {
          if (this.#following === abort) parser.push(chunk);
        });
        const done = () => {
          if (this.#following === abort) this.#following = undefined;
        };
        stream.on('end', done);
        stream.on('close', done);
        stream.on('error', done);
      },
      () => {
        if (this.#following === abort) this.#following = undefined;
      },
    );
  }

  /**
   * Stops following and copies what the engine holds beyond the cursor: the last lines of a
   * container that stopped. `final` also ends a last line that had no newline.
   */
  async catchUp(final: boolean): Promise<void> {
    this.#stopFollowing();
    const output = await this.#o.engine.getContainer(this.#o.containerName).logs({
      follow: false,
      stdout: true,
      stderr: true,
      timestamps: true,
      since: this.#since(),
    });
    this.#parser().push(Buffer.isBuffer(output) ? output : Buffer.from(String(output)));
    if (final) {
      this.#splitters.stdout.flush();
      this.#splitters.stderr.flush();
    }
  }

  /** Stops following; the cursor stays where the copy got to. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopFollowing();
    this.#file.close();
  }

  #stopFollowing(): void {
    const following = this.#following;
    this.#following = undefined;
    following?.abort();
  }

  #since(): number {
    return this.#cursor ? Math.floor(Date.parse(`${this.#cursor.second}Z`) / 1000) : 0;
  }

  /**
   * A parser for one read from `since`. Each frame's place within its second, counted in this
   * read, says whether it was copied before: a read starts at or before the cursor's second,
   * so the first `cursor.count` frames of that second are the ones already copied. Two reads
   * at once (a follow and a catch-up) therefore never copy a frame twice.
   */
  #parser(): FrameParser {
    let second = '';
    let place = 0;
    return new FrameParser((stream, payload) => {
      const frame = splitTimestamp(payload.toString('utf8'));
      if (frame.second !== second) {
        second = frame.second;
        place = 0;
      }
      place++;
      const cursor = this.#cursor;
      if (
        cursor &&
        (second < cursor.second || (second === cursor.second && place <= cursor.count))
      ) {
        return;
      }
      this.#cursor = { second, count: place };
      this.#splitters[stream].push(frame.text);
      this.#o.onCursor(this.#cursor);
    });
  }

  #write(stream: LogLine['stream'], text: string): void {
    if (this.#closed) return;
    const { target } = this.#o;
    const line: LogLine = {
      at: new Date().toISOString(),
      app: target.app,
      release: target.release,
      processType: target.processType,
      index: target.index,
      unitId: target.unitId,
      stream,
      text,
    };
    this.#file.append(JSON.stringify(line));
    this.#o.onLine?.(line);
  }
}
