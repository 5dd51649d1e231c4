// A stand-in for a private npm registry behind a private CA: a Node https server on 127.0.0.1
// serving one package's metadata and tarball, its certificate signed by a CA made here with
// openssl, so only a build that trusts that CA can install from it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { c as createTar } from 'tar';

export interface TestRegistry {
  /** `https://127.0.0.1:PORT/` */
  readonly url: string;
  /** The CA certificate (PEM file) that signed the server's certificate. */
  readonly caFile: string;
  readonly packageName: string;
  readonly version: string;
  /** Requests seen, as `METHOD path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`. */
async function makeCertificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  await mkdir(dir, { recursive: true });
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Berth Test Private CA',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ],
    dir,
  );
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    ],
    dir,
  );
  return {
    ca: join(dir, 'ca.pem'),
    key: await readFile(join(dir, 'server.key'), 'utf8'),
    cert: await readFile(join(dir, 'server.pem'), 'utf8'),
  };
}

/** The package's tarball, as npm publishes it (`package/` at the top). */
async function packageTarball(dir: string, name: string, version: string): Promise<Buffer> {
  const source = join(dir, 'package-source');
  await mkdir(join(source, 'package'), { recursive: true });
  await writeFile(
    join(source, 'package', 'package.json'),
    JSON.stringify({ name, version, main: 'index.js' }),
  );
  await writeFile(join(source, 'package', 'index.js'), `module.exports = '${name} ${version}';\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ cwd: source, gzip: true, portable: true }, ['package'])) {
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/** Starts the registry in `dir` (certificates and the package are made there). */
export async function startTestRegistry(dir: string): Promise<TestRegistry> {
  const packageName = 'berth-private-dep';
  const version = '1.0.0';
  const { ca, key, cert } = await makeCertificates(join(dir, 'tls'));
  const tarball = await packageTarball(dir, packageName, version);
  const requests: string[] = [];
  let url = '';
  const server = https.createServer({ key, cert }, (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const tarPath = `/${packageName}/-/${packageName}-${version}.tgz`;
    if (request.url === `/${packageName}`) {
      const body = JSON.stringify({
        name: packageName,
        'dist-tags': { latest: version },
        versions: {
          [version]: {
            name: packageName,
            version,
            dist: {
              tarball: `${url}${tarPath.slice(1)}`,
              shasum: createHash('sha1').update(tarball).digest('hex'),
              integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
            },
          },
        },
      });
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (request.url === tarPath) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    caFile: ca,
    packageName,
    version,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
