// A small client of one server's /api/v1, authenticated with a bearer token: JSON bodies, or a
// deploy bundle sent as application/gzip.

/** Every request gets this long; a stuck server fails the run instead of hanging it. */
const REQUEST_TIMEOUT_MS = 60_000;

/** A reply: the status and the parsed JSON body (undefined when empty). */
export interface ApiReply {
  readonly status: number;
  readonly body: unknown;
}

export class BerthApiClient {
  readonly url: string;
  readonly #authorization: string;

  constructor(url: string, token: string) {
    this.url = url;
    this.#authorization = `Bearer ${token}`;
  }

  /** Sends a request; a Buffer body is a tar.gz bundle, any other body is JSON. */
  async send(method: string, pathname: string, body?: Buffer | object): Promise<ApiReply> {
    const headers: Record<string, string> = { authorization: this.#authorization };
    let payload: Buffer | string | undefined;
    if (Buffer.isBuffer(body)) {
      headers['content-type'] = 'application/gzip';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${this.url}/api/v1${pathname}`, {
      method,
      headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(payload === undefined ? {} : { body: payload }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  /** Sends a request and throws unless the answer has `status`. */
  async expect(
    status: number,
    method: string,
    pathname: string,
    body?: Buffer | object,
  ): Promise<unknown> {
    const reply = await this.send(method, pathname, body);
    if (reply.status !== status) {
      throw new Error(
        `${method} ${pathname}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body)}`,
      );
    }
    return reply.body;
  }
}
