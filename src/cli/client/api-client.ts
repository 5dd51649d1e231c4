// A small typed client of Berth's HTTP API (/api/v1): JSON in and out, errors as ApiError,
// an unreachable server as NetworkError naming it.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiError, NetworkError } from './errors.js';

/** Where the API is and the token to call it with. */
export interface ApiTarget {
  /** Base URL of the server, e.g. http://127.0.0.1:7100 (no trailing slash). */
  readonly server: string;
  readonly token?: string | undefined;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | undefined>>;
  /** A raw body (a bundle), sent as a stream of chunks with its content type. */
  readonly raw?: {
    readonly data: Uint8Array;
    readonly contentType: string;
    /** Called with the bytes sent so far, as the body is read. */
    readonly onProgress?: (sent: number) => void;
  };
}

/** A successful answer: its status, headers and parsed JSON body (undefined when empty). */
export interface ApiReply<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

const UPLOAD_CHUNK = 64 * 1024;

/** Normalises what a user types as a server: adds http://, drops trailing slashes. */
export function normaliseServer(server: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`;
  const url = new URL(withScheme);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`the server must be an http:// or https:// URL, got '${server}'`);
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function causeCodeOf(error: unknown): string {
  // fetch wraps the socket's error: TypeError('fetch failed') → cause {code: 'ECONNREFUSED'}.
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    if (current instanceof Error) message = current.message;
    const errors = (current as { errors?: unknown }).errors;
    current =
      Array.isArray(errors) && errors.length > 0
        ? errors[0]
        : (current as { cause?: unknown }).cause;
  }
  return message;
}

function chunkedStream(
  data: Uint8Array,
  onProgress?: (sent: number) => void,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) {
        controller.close();
        return;
      }
      const end = Math.min(data.length, offset + UPLOAD_CHUNK);
      controller.enqueue(data.subarray(offset, end));
      offset = end;
      onProgress?.(offset);
    },
  });
}

/** Calls the API of one server with one token. */
export class ApiClient {
  readonly server: string;
  readonly #token: string | undefined;

  constructor(target: ApiTarget) {
    this.server = target.server;
    this.#token = target.token;
  }

  /** The WebSocket API's URL. */
  get webSocketUrl(): string {
    return `${this.server.replace(/^http/, 'ws')}/api/v1/ws`;
  }

  /** The token the client calls with (for the WebSocket login; never printed). */
  get token(): string | undefined {
    return this.#token;
  }

  async request<T>(
    method: string,
    pathname: string,
    options: RequestOptions = {},
  ): Promise<ApiReply<T>> {
    const url = new URL(`${this.server}/api/v1${pathname}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers['authorization'] = `Bearer ${this.#token}`;
    const init: RequestInit & { duplex?: 'half' } = { method, headers };
    if (options.raw) {
      headers['content-type'] = options.raw.contentType;
      headers['content-length'] = String(options.raw.data.length);
      init.body = chunkedStream(options.raw.data, options.raw.onProgress);
      init.duplex = 'half';
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new NetworkError(this.server, causeCodeOf(error));
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new NetworkError(this.server, causeCodeOf(error));
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (!response.ok) throw errorOf(response.status, body);
    return { status: response.status, headers: response.headers, body: body as T };
  }

  get<T>(pathname: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', pathname, query ? { query } : {}).then((r) => r.body);
  }

  post<T>(pathname: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', pathname, { body: body ?? {} }).then((r) => r.body);
  }

  patch<T>(pathname: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', pathname, { body }).then((r) => r.body);
  }

  async delete(pathname: string): Promise<void> {
    await this.request('DELETE', pathname);
  }

  /**
   * Streams a GET's body into the file `fileFor` names from the answer's headers (written as `<file>.partial`, renamed once whole) and
   * resolves with its size and SHA-256; an error answer rejects as ApiError and writes nothing.
   */
  async download(
    pathname: string,
    fileFor: (headers: Headers) => string,
  ): Promise<{ file: string; bytes: number; sha256: string; headers: Headers }> {
    const headers: Record<string, string> = {};
    if (this.#token) headers['authorization'] = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(new URL(`${this.server}/api/v1${pathname}`), { headers });
    } catch (error) {
      throw new NetworkError(this.server, causeCodeOf(error));
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: the text is the message
      }
      throw errorOf(response.status, body);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    const file = fileFor(response.headers);
    const partial = `${file}.partial`;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        counted,
        createWriteStream(partial, { mode: 0o600 }),
      );
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { file, bytes, sha256: hash.digest('hex'), headers: response.headers };
  }
}

function errorOf(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; reason?: unknown } })
    ?.error;
  if (error && typeof error.code === 'string') {
    return new ApiError(
      status,
      error.code,
      typeof error.message === 'string' ? error.message : `HTTP ${status}`,
      typeof error.reason === 'string' ? error.reason : undefined,
    );
  }
  return new ApiError(
    status,
    `HTTP_${status}`,
    typeof body === 'string' && body ? body : 'the server answered with an error',
  );
}

/** The path segment of an app name, escaped. */
export function appPath(app: string): string {
  return `/apps/${encodeURIComponent(app)}`;
}
