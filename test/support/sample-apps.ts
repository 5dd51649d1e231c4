// Sample apps for the deploy, runtime and router tests: bundle file maps (BundleFiles) of small
// dependency-free apps, so they build and run without a registry. Each says what it answers.
import type { BundleFiles } from './bundles.js';

/** A package.json of a dependency-free app: `npm start` runs `start`. */
export function packageJson(name: string, scripts: Readonly<Record<string, string>>): string {
  return `${JSON.stringify({ name, version: '1.0.0', private: true, scripts }, null, 2)}\n`;
}

/**
 * Answers every request of a node server, as a CommonJS snippet that defines `handle(q, s)`:
 * `/health` → 200 'ok'; `/env/<KEY>` → the value of config var KEY (404 when unset);
 * `/version` → the VERSION.txt that withVersion adds ('none' without); `/slow/<ms>` → 'slow
 * done' after ms milliseconds (an in-flight request for drain tests); anything else →
 * `hello from <BERTH_APP> v<BERTH_RELEASE>`.
 */
const HELLO_HANDLER = `
const fs = require('fs');
function handle(q, s) {
  const url = new URL(q.url, 'http://localhost');
  if (url.pathname === '/health') return s.end('ok');
  if (url.pathname.startsWith('/env/')) {
    const value = process.env[decodeURIComponent(url.pathname.slice(5))];
    if (value === undefined) { s.statusCode = 404; return s.end('unset'); }
    return s.end(value);
  }
  if (url.pathname === '/version') {
    let version = 'none';
    try { version = fs.readFileSync(__dirname + '/VERSION.txt', 'utf8').trim(); } catch {}
    return s.end(version);
  }
  if (url.pathname.startsWith('/slow/')) {
    const ms = Number(url.pathname.slice(6)) || 0;
    return setTimeout(() => s.end('slow done'), ms);
  }
  s.end('hello from ' + process.env.BERTH_APP + ' v' + process.env.BERTH_RELEASE);
}
`;

/**
 * Listens on PORT and, on SIGTERM, stops accepting connections, lets in-flight requests
 * finish (server.close waits for them; idle keep-alive connections are closed at once), then
 * exits 0. Expects `server` to be defined.
 */
const GRACEFUL_LISTEN = `
server.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => {
  console.log('SIGTERM: draining');
  server.close(() => { console.log('drained, exiting'); process.exit(0); });
  server.closeIdleConnections();
});
`;

/** A dependency-free node http server (see HELLO_HANDLER for its paths); `npm start`. */
export const nodeHelloApp: BundleFiles = {
  'package.json': packageJson('node-hello', { start: 'node server.js' }),
  'server.js': `'use strict';
const http = require('http');
${HELLO_HANDLER}
const server = http.createServer(handle);
${GRACEFUL_LISTEN}`,
};

/**
 * A node server that answers a WebSocket upgrade on any path by hand (RFC 6455: the accept
 * hash, unmasking client frames) and echoes text frames back; it answers pings and closes. A
 * plain GET answers 'websocket echo'; `/health` answers 'ok'.
 */
export const nodeWebSocketApp: BundleFiles = {
  'package.json': packageJson('node-websocket', { start: 'node server.js' }),
  'server.js': `'use strict';
const http = require('http');
const crypto = require('crypto');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const server = http.createServer((q, s) => s.end(q.url === '/health' ? 'ok' : 'websocket echo'));

function frame(opcode, payload) {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length])
    : length < 65536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 255])
    : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}
function bigLength(length) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(length)); return b; }

server.on('upgrade', (q, socket, head) => {
  const key = q.headers['sec-websocket-key'];
  if (q.headers.upgrade?.toLowerCase() !== 'websocket' || !key) return socket.destroy();
  const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\n' +
    'Connection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  let buffer = head;
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      const opcode = buffer[0] & 15;
      const masked = (buffer[1] & 128) !== 0;
      let length = buffer[1] & 127;
      let offset = 2;
      if (length === 126) { if (buffer.length < 4) return; length = buffer.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (buffer.length < 10) return; length = Number(buffer.readBigUInt64BE(2)); offset = 10; }
      const mask = masked ? buffer.subarray(offset, offset + 4) : null;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buffer = buffer.subarray(offset + length);
      if (opcode === 1) socket.write(frame(1, payload));
      else if (opcode === 9) socket.write(frame(10, payload));
      else if (opcode === 8) { socket.end(frame(8, payload.subarray(0, 2))); return; }
    }
  });
  socket.on('error', () => socket.destroy());
});
${GRACEFUL_LISTEN}`,
};

/**
 * A python stdlib http.server on PORT, run by a Procfile as `python app.py` (so it runs the
 * slug's venv python through runtimeEnv's PATH), with an empty requirements.txt. Answers
 * `/health` → 'ok', `/env/<KEY>` like the node app, and anything else → `hello from python
 * <BERTH_APP> v<BERTH_RELEASE>`; `/venv` answers sys.prefix, to check which python runs.
 * SIGTERM shuts the server down and exits 0.
 */
export const pythonHelloApp: BundleFiles = {
  'requirements.txt': '',
  Procfile: 'web: python app.py\n',
  'app.py': `import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = 200, ""
        if self.path == "/health":
            body = "ok"
        elif self.path == "/venv":
            body = sys.prefix
        elif self.path.startswith("/env/"):
            value = os.environ.get(self.path[5:])
            status, body = (404, "unset") if value is None else (200, value)
        else:
            body = "hello from python %s v%s" % (
                os.environ.get("BERTH_APP"),
                os.environ.get("BERTH_RELEASE"),
            )
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        print("%s %s" % (self.command, self.path), flush=True)


server = ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print("listening on %s" % os.environ["PORT"], flush=True)
server.serve_forever()
print("stopped", flush=True)
`,
};

/** A static site: `/` (index.html), `/css/site.css` and a nested page `/docs/guide/`. */
export const staticSite: BundleFiles = {
  'index.html':
    '<!doctype html>\n<html><head><link rel="stylesheet" href="/css/site.css"><title>Static</title></head>\n<body><h1>static home</h1><a href="/docs/guide/">guide</a></body></html>\n',
  'css/site.css': 'body { font-family: sans-serif; color: #123; }\n',
  'docs/guide/index.html':
    '<!doctype html>\n<html><head><title>Guide</title></head><body><h1>nested guide</h1></body></html>\n',
};

/**
 * A Procfile app with a `web` (the hello server) and a `worker` that logs `worker tick <n>`
 * every 200 ms and exits 0 on SIGTERM.
 */
export const nodeWorkerApp: BundleFiles = {
  ...nodeHelloApp,
  'package.json': packageJson('node-worker', { start: 'node server.js' }),
  Procfile: 'web: node server.js\nworker: node worker.js\n',
  'worker.js': `'use strict';
let n = 0;
const timer = setInterval(() => console.log('worker tick ' + ++n), 200);
process.on('SIGTERM', () => { clearInterval(timer); console.log('worker stopping'); process.exit(0); });
`,
};

/**
 * A node server whose berth.json healthcheck (`/health`, 1 s timeout, 2 attempts) always
 * answers 500, so its rollout fails; `/` answers 'unhealthy app'.
 */
export const failingHealthApp: BundleFiles = {
  'package.json': packageJson('failing-health', { start: 'node server.js' }),
  'berth.json': `${JSON.stringify({ healthcheck: { path: '/health', timeoutSeconds: 1, attempts: 2 } }, null, 2)}\n`,
  'server.js': `'use strict';
const http = require('http');
const server = http.createServer((q, s) => {
  if (q.url === '/health') { s.statusCode = 500; return s.end('not healthy'); }
  s.end('unhealthy app');
});
${GRACEFUL_LISTEN}`,
};

/** A node app that prints a line to stderr and exits 1 at once. */
export const crashingApp: BundleFiles = {
  'package.json': packageJson('crashing', { start: 'node crash.js' }),
  'crash.js': "console.error('crashing on purpose');\nprocess.exit(1);\n",
};

/**
 * A node app whose `build` script (no dependencies) writes `public/built.txt`, which the server
 * answers at `/built` ('built at build time'); other paths as the hello app.
 */
export const nodeAppWithBuild: BundleFiles = {
  'package.json': packageJson('node-with-build', {
    build: 'node build.js',
    start: 'node server.js',
  }),
  'build.js': `'use strict';
const fs = require('fs');
console.log('building public/built.txt');
fs.mkdirSync('public', { recursive: true });
fs.writeFileSync('public/built.txt', 'built at build time\\n');
console.log('build done');
`,
  'server.js': `'use strict';
const http = require('http');
${HELLO_HANDLER}
const server = http.createServer((q, s) => {
  if (q.url === '/built') return s.end(fs.readFileSync(__dirname + '/public/built.txt'));
  handle(q, s);
});
${GRACEFUL_LISTEN}`,
};

/**
 * A node app whose `build` script prints 'build step 1', 'build step 2' and 'build failed on
 * purpose' (stderr), then exits 1.
 */
export const failingBuildApp: BundleFiles = {
  'package.json': packageJson('failing-build', { build: 'node build.js', start: 'node server.js' }),
  'build.js': `console.log('build step 1');
console.log('build step 2');
console.error('build failed on purpose');
process.exit(1);
`,
  'server.js': nodeHelloApp['server.js'] ?? '',
};

/**
 * The same app with a different VERSION.txt, so each deploy is a new artifact; the hello
 * apps answer it at `/version`.
 */
export function withVersion(files: BundleFiles, marker: string): BundleFiles {
  return { ...files, 'VERSION.txt': `${marker}\n` };
}
