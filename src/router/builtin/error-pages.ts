import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RouteMaintenance } from '../route-table.js';

/** The statuses the router answers itself, with the reason phrase shown on the page. */
const TITLES: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
});

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small HTML page for a browser, the one line of text for anything else (curl, scripts). */
function render(status: number, message: string, accept: string | undefined): [string, string] {
  if (accept !== undefined && accept.includes('text/html')) {
    const title = `${status} ${TITLES[status] ?? 'Error'}`;
    return [
      'text/html; charset=utf-8',
      `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
        `<body><h1>${title}</h1><p>${escapeHtml(message)}</p><hr><p>berth router</p></body></html>\n`,
    ];
  }
  return ['text/plain; charset=utf-8', `${status} ${TITLES[status] ?? 'Error'}: ${message}\n`];
}

/**
 * Answers with one of the router's own error pages. The message is written for the visitor and
 * never holds an internal detail (a stack, an upstream address).
 */
export function sendErrorPage(
  res: ServerResponse,
  status: number,
  message: string,
  requestId: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    // Too late for a page: cut the response so the client sees it is incomplete.
    res.destroy();
    return;
  }
  const [type, body] = render(status, message, res.req.headers.accept);
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    ...extraHeaders,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** The page of an app in maintenance that set no message of its own. */
export const MAINTENANCE_TEXT = 'this app is down for maintenance; please try again shortly';

/**
 * The 503 page of an app in maintenance: its message (escaped in HTML), `Retry-After`, and
 * never cached, so that the app's own pages come back as soon as maintenance ends.
 */
export function sendMaintenancePage(
  res: ServerResponse,
  maintenance: RouteMaintenance,
  requestId: string,
): void {
  sendErrorPage(res, 503, maintenance.message ?? MAINTENANCE_TEXT, requestId, {
    'retry-after': String(maintenance.retryAfterSeconds),
  });
}

/** The same page on a raw socket, for an upgrade request the router cannot pass on. */
export function sendErrorOnSocket(socket: Socket, status: number, message: string): void {
  const [type, body] = render(status, message, undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Closed once the answer is out: a client that never closes its side keeps nothing open.
  socket.end(
    `HTTP/1.1 ${status} ${TITLES[status] ?? 'Error'}\r\ncontent-type: ${type}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
