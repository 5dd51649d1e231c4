// The small Node programs the runtime contract suite runs as units. A fixture puts them in
// its artifact as they are: files of a directory for the process runtime, the files of an
// image (FROM node, COPY) for the container runtime. They use nothing but node: modules.

/** The names of the scripts in a contract artifact. */
export type ContractScript =
  | 'web.mjs'
  | 'quiet.mjs'
  | 'stubborn.mjs'
  | 'crash.mjs'
  | 'lines.mjs'
  | 'oneoff.mjs'
  | 'spawner.mjs';

/** Each script's source, by file name. */
export const CONTRACT_SCRIPTS: Readonly<Record<ContractScript, string>> = Object.freeze({
  // Answers on PORT: /env with its environment and pid, /log?text=… prints a line.
  'web.mjs': `
import http from 'node:http';
const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://localhost');
  if (url.pathname === '/log') console.log(url.searchParams.get('text'));
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify({ pid: process.pid, env: process.env }));
});
server.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => {
  console.log('got SIGTERM, closing');
  server.close();
  server.closeAllConnections();
  process.exitCode = 0;
});
`,
  // Answers 'quiet' on PORT and never prints a line: a start must not wait for output.
  'quiet.mjs': `
import http from 'node:http';
http.createServer((request, response) => response.end('quiet')).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
  // Ignores SIGTERM: only SIGKILL ends it.
  'stubborn.mjs': `
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
setInterval(() => {}, 1000);
console.log('stubborn and ready');
`,
  // Exits with code 3 as soon as it starts.
  'crash.mjs': `
console.error('crashing now');
process.exit(3);
`,
  // Prints its arguments' worth of lines (count, size) to stdout, one line to stderr, then waits.
  'lines.mjs': `
const count = Number(process.argv[2] ?? 3);
const size = Number(process.argv[3] ?? 0);
for (let i = 1; i <= count; i++) console.log('out ' + i + (size > 0 ? ' ' + 'x'.repeat(size) : ''));
console.error('err 1');
setInterval(() => {}, 1000);
`,
  // A one-off: prints to both streams and exits with the code in argv[2], or sleeps with 'sleep'.
  'oneoff.mjs': `
console.log('hello from run ' + process.env.BERTH_APP);
console.error('to stderr');
if (process.argv[2] === 'sleep') setInterval(() => {}, 1000);
else process.exitCode = Number(process.argv[2] ?? 0);
`,
  // Starts a grandchild that ignores SIGTERM and prints its pid, then waits.
  'spawner.mjs': `
import { spawn } from 'node:child_process';
const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
console.log('grandchild ' + grandchild.pid);
setInterval(() => {}, 1000);
`,
});
