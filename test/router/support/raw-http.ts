// Raw bytes over net.Socket, for requests node:http would never send (two Host lines, no
// version, a header sent one byte at a time).
import net from 'node:net';

/** What came back on a raw connection, and when it closed. */
export interface RawExchange {
  /** Everything the router sent, as latin1 text. */
  readonly text: string;
  /** The status of the first response, or 0 when none came. */
  readonly status: number;
  /** Milliseconds from connect to the router's close. */
  readonly closedAfterMs: number;
}

/** Opens a connection to the router; resolves once it is up. */
export function connectRaw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Collects what a socket receives until it closes (from either side). */
export function collect(socket: net.Socket): Promise<RawExchange> {
  const started = performance.now();
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({
        text,
        status: match === null ? 0 : Number(match[1]),
        closedAfterMs: performance.now() - started,
      });
    });
  });
}

/**
 * Sends `bytes` on a fresh connection and reads until the router closes it, or until
 * `waitMs` passes (then this side closes: a kept-alive connection stays open otherwise).
 * With `end`, this side ends its half after the bytes, as a client with nothing more to say.
 */
export async function exchangeRaw(
  port: number,
  bytes: string,
  waitMs = 1_000,
  options: { end?: boolean } = {},
): Promise<RawExchange> {
  const socket = await connectRaw(port);
  const result = collect(socket);
  if (options.end === true) socket.end(bytes, 'latin1');
  else socket.write(bytes, 'latin1');
  const timer = setTimeout(() => socket.destroy(), waitMs);
  try {
    return await result;
  } finally {
    clearTimeout(timer);
  }
}
