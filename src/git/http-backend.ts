import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../logging/index.js';

/** What http-backend needs of one request, already authorized. */
export interface BackendRequest {
  readonly method: 'GET' | 'POST';
  /** `/<app>.git/info/refs`, `/<app>.git/git-upload-pack`, …: built from checked values. */
  readonly pathInfo: string;
  /** `service=git-upload-pack` or empty: built from checked values, never the raw query. */
  readonly queryString: string;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly gitProtocol: string | undefined;
  readonly remoteUser: string;
  readonly remoteAddr: string;
  readonly body: Readable | undefined;
  /** The largest request body passed on, in bytes; past it the push is cut off. */
  readonly maxBodyBytes: number;
}

/** The CGI's answer: its status and headers, then its body as a stream. */
export interface BackendResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readable;
}

/** The header/body separator of a CGI response (git writes CRLF; LF alone is accepted). */
function headerEnd(buffer: Buffer): { at: number; length: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf >= 0) return { at: lf, length: 2 };
  return undefined;
}

/**
 * Runs `git http-backend` (CGI) for one request: an argument array, and an environment made
 * of the CGI variables, the git root and `extraEnv` only (the controller's own environment
 * holds BERTH_MASTER_KEY). Resolves once the CGI has written its headers.
 */
export function runHttpBackend(
  request: BackendRequest,
  options: {
    readonly projectRoot: string;
    readonly baseEnv: Readonly<Record<string, string>>;
    readonly extraEnv?: Readonly<Record<string, string>>;
    readonly logger: Logger;
  },
): Promise<BackendResponse> {
  const env: Record<string, string> = {
    ...options.baseEnv,
    GIT_PROJECT_ROOT: options.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: request.method,
    PATH_INFO: request.pathInfo,
    QUERY_STRING: request.queryString,
    REMOTE_USER: request.remoteUser,
    REMOTE_ADDR: request.remoteAddr,
    ...(request.contentType ? { CONTENT_TYPE: request.contentType } : {}),
    ...(request.contentEncoding ? { HTTP_CONTENT_ENCODING: request.contentEncoding } : {}),
    ...(request.gitProtocol ? { GIT_PROTOCOL: request.gitProtocol } : {}),
    ...options.extraEnv,
  };
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 8192) stderr += chunk;
  });
  child.on('close', (code, signal) => {
    if (code !== 0)
      options.logger.warn(
        { code, signal, stderr: stderr.trim().slice(0, 2000), path: request.pathInfo },
        'git http-backend failed',
      );
  });
  // EPIPE when the CGI stops reading early (it refused the request): its answer says why.
  child.stdin.on('error', () => undefined);
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  if (request.body) {
    const body = request.body;
    // A client gone mid-request: the CGI would wait for the rest of its input forever.
    body.once('error', stop);
    body.once('close', () => {
      if (!body.readableEnded) stop();
    });
    let received = 0;
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > request.maxBodyBytes) {
        options.logger.warn({ path: request.pathInfo }, 'git request body over the limit');
        // Closes the connection; 'close' then stops the CGI.
        body.destroy();
      }
    });
    body.pipe(child.stdin);
  } else child.stdin.end();

  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = headerEnd(head);
      if (!end) {
        if (head.length > 64 * 1024) {
          stop();
          reject(new Error('git http-backend wrote no end of headers'));
        }
        return;
      }
      child.stdout.off('data', onData);
      child.stdout.off('end', onEnd);
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end.at).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'status') status = Number.parseInt(value, 10) || 500;
        else headers[name] = value;
      }
      const body = new PassThrough();
      body.write(head.subarray(end.at + end.length));
      child.stdout.pipe(body);
      // The answer dropped before git finished it (the client went away): stop git too.
      body.once('close', () => {
        if (!child.stdout.readableEnded) stop();
      });
      resolve({ status, headers, body });
    };
    const onEnd = () =>
      reject(new Error(`git http-backend ended before its headers: ${stderr.trim()}`));
    child.stdout.on('data', onData);
    child.stdout.on('end', onEnd);
    child.on('error', reject);
  });
}
