// A small client for the WebSocket API in tests: sends requests, awaits their replies, and
// queues pushed events and the close frame.
import { WebSocket } from 'ws';

export interface Pushed {
  readonly subscription: string;
  readonly event?: Record<string, unknown>;
  readonly error?: { code: string; message: string };
}

export class WsTestClient {
  readonly socket: WebSocket;
  readonly #replies = new Map<number, (message: Record<string, unknown>) => void>();
  readonly #pushed: Pushed[] = [];
  #pushWaiter: (() => void) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if ('subscription' in message) {
        this.#pushed.push(message as unknown as Pushed);
        this.#pushWaiter?.();
        return;
      }
      const reply =
        typeof message['id'] === 'number' ? this.#replies.get(message['id']) : undefined;
      reply?.(message);
    });
  }

  static connect(url: string): Promise<WsTestClient> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws`);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new WsTestClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a request and resolves with its reply ({result} or {error}). */
  call(
    method: string,
    params: Record<string, unknown> = {},
    timeoutMs = 5000,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reply to ${method} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#replies.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  sendRaw(text: string): void {
    this.socket.send(text);
  }

  /** The next pushed event, within `timeoutMs`. */
  async nextPush(timeoutMs = 5000): Promise<Pushed> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pushed.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no pushed event in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#pushWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#pushed.shift()!;
  }

  /** Whether nothing is pushed within `ms`. */
  async quiet(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.#pushed.length === 0;
  }

  close(): void {
    this.socket.close();
  }
}
