// Probes the deploy benchmarks share: bundles made as a user makes them, and polls that see
// the moment an app (direct, or through the router by Host) first answers what it should.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tar from 'tar';

const POLL_MS = 5;

/** A tar.gz bundle of `files`, as a user uploads it. */
export async function bundleOf(dir: string, files: Record<string, string>): Promise<Buffer> {
  const src = await mkdtemp(path.join(dir, 'src-'));
  for (const [name, content] of Object.entries(files))
    await writeFile(path.join(src, name), content);
  const out = path.join(dir, `bundle-${path.basename(src)}.tar.gz`);
  await tar.c({ gzip: true, cwd: src, file: out, portable: true }, Object.keys(files));
  return readFile(out);
}

/** GET / with a Host header; the body, or undefined when nothing answers (yet). */
export function fetchBody(url: string, host: string): Promise<string | undefined> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const request = http.get(
      { host: target.hostname, port: target.port, path: '/', headers: { host }, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(response.statusCode === 200 ? body : undefined));
        response.on('error', () => resolve(undefined));
      },
    );
    request.on('error', () => resolve(undefined));
    request.setTimeout(2000, () => request.destroy());
  });
}

/** Polls `url` (as `host`) every few ms until it answers `body`. */
export async function waitForBody(
  url: string,
  host: string,
  body: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while ((await fetchBody(url, host)) !== body) {
    if (performance.now() > deadline) throw new Error(`${host} did not answer '${body}' in time`);
    await sleep(POLL_MS);
  }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
