// Builds on a corporate network: a private registry whose certificate only a private CA
// vouches for (as behind a TLS-inspecting proxy). The real npm installs from a local HTTPS
// stand-in on the process runtime, as the app's own user where the tests run as root, with
// the CA trusted only through the build env file. Container builds cannot reach the host's
// loopback from Podman's bridge, so there the settings are checked where they land: in the
// build context and, on the real engine, inside the fetching steps and not in the image.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BuildFailure,
  buildImage,
  buildSlug,
  BuildNetworkError,
  loadBuildNetwork,
  removeImage,
  type BuildJail,
  type BuildNetwork,
} from '../../src/build/index.js';
import { Stacks } from '../../src/build/project/index.js';
import { AppSandboxes, detectIsolation } from '../../src/runtime/index.js';
import { startTestServer } from '../support/api.js';
import { connectTestEngine, testBaseImage } from '../support/engine.js';
import { deploy, viaRouter } from '../support/platform.js';
import { startTestRegistry, type TestRegistry } from './support/https-registry.js';

const isRoot = process.getuid?.() === 0;

describe('builds behind a private CA, with the host’s network settings', () => {
  let dir: string;
  let registry: TestRegistry;
  let envFile: string;
  let network: BuildNetwork;
  let sandboxes: AppSandboxes | undefined;
  let counter = 0;
  const jails: { release(): Promise<void> }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-build-network-'));
    // Apps' users must pass to their slugs; the CA and the env file stay in a private folder,
    // as root's own files would (a CA under /root, unreadable by any app's uid).
    await chmod(dir, 0o711);
    const secret = join(dir, 'operator');
    await mkdir(secret, { mode: 0o700 });
    registry = await startTestRegistry(secret);
    envFile = join(secret, 'build.env');
    await writeFile(
      envFile,
      [
        '# the corporate registry and the CA of its proxy',
        `npm_config_registry=${registry.url}`,
        `NODE_EXTRA_CA_CERTS="${registry.caFile}"`,
        '',
      ].join('\n'),
    );
    network = await loadBuildNetwork({ env: {}, file: envFile });
    if (isRoot) {
      sandboxes = new AppSandboxes({
        isolation: await detectIsolation(),
        appsRoot: join(dir, 'apps'),
        scopeKey: dir,
      });
    }
  });
  after(async () => {
    await Promise.allSettled(jails.map((jail) => jail.release()));
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A node app depending on the private package, and the jail its build runs in. */
  const app = async (): Promise<{ slug: string; jail: BuildJail | undefined }> => {
    const slug = join(dir, `slug-${++counter}`);
    await mkdir(slug, { recursive: true });
    await writeFile(
      join(slug, 'package.json'),
      JSON.stringify({
        name: 'corp-app',
        version: '1.0.0',
        dependencies: { [registry.packageName]: registry.version },
      }),
    );
    if (!sandboxes) return { slug, jail: undefined };
    const account = { appId: `netapp${process.pid}x${counter}`, uid: 470_000 + counter };
    const jail = await sandboxes.buildJail(`build-net-${counter}`, account, slug);
    jails.push(jail);
    return { slug, jail };
  };

  const build = async (slug: string, jail: BuildJail | undefined, options: object) => {
    const lines: string[] = [];
    const result = await buildSlug({
      dir: slug,
      stack: Stacks.node,
      timeoutMs: 120_000,
      signal: new AbortController().signal,
      log: (line) => lines.push(line),
      ...(jail ? { jail } : {}),
      ...options,
    }).catch((error: unknown) => error);
    return { result, lines };
  };

  it('reads the env file: values, files named, and refuses other keys', async () => {
    assert.deepEqual(network.env, { npm_config_registry: registry.url });
    assert.ok(network.caBundle?.includes(await readFile(registry.caFile, 'utf8')));
    // The host's roots stay trusted: the bundle starts with them.
    const system = await readFile('/etc/ssl/certs/ca-certificates.crt', 'utf8').catch(() => '');
    if (system) assert.ok(network.caBundle?.startsWith(system));
    // Under `npm start` the controller holds npm's own configuration: not build settings.
    const underNpm = await loadBuildNetwork({
      env: {
        npm_config_user_agent: 'npm/11',
        npm_config_userconfig: '/root/.npmrc',
        npm_config_cache: '/root/.npm',
        NPM_CONFIG_REGISTRY: registry.url,
      },
    });
    assert.deepEqual(underNpm.env, { NPM_CONFIG_REGISTRY: registry.url });
    assert.equal(underNpm.npmrc, undefined);
    const bad = join(dir, 'bad.env');
    await writeFile(bad, 'HTTPS_PROXY=http://proxy:3128\nBERTH_MASTER_KEY=stolen\n');
    await assert.rejects(loadBuildNetwork({ env: {}, file: bad }), (error: Error) => {
      assert.ok(error instanceof BuildNetworkError);
      assert.match(error.message, /line 2: BERTH_MASTER_KEY is not a build network setting/);
      return true;
    });
  });

  it('fails as before when the CA is only in the controller’s environment', async (t) => {
    if (!sandboxes) return t.skip('as root only: the app’s uid cannot read the CA');
    const { slug, jail } = await app();
    const { result, lines } = await build(slug, jail, {
      controllerEnv: {
        PATH: process.env['PATH'],
        npm_config_registry: registry.url,
        NODE_EXTRA_CA_CERTS: registry.caFile,
        npm_config_fetch_retries: '0',
      },
    });
    assert.ok(result instanceof BuildFailure, String(result));
    assert.match(
      lines.join('\n'),
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|local issuer/,
    );
  });

  it('installs a dependency from the private registry with the build network', async () => {
    const { slug, jail } = await app();
    const { result, lines } = await build(slug, jail, {
      controllerEnv: { PATH: process.env['PATH'] },
      network,
    });
    assert.ok(!(result instanceof Error), `${String(result)}\n${lines.join('\n')}`);
    const installed = join(slug, 'node_modules', registry.packageName, 'index.js');
    assert.ok(existsSync(installed), lines.join('\n'));
    assert.ok(
      registry.requests.some((r) => r.endsWith('.tgz')),
      registry.requests.join(', '),
    );
    assert.equal(existsSync(join(slug, '.berth', 'build-network')), false, 'the copies are gone');
  });

  it('a server started with BERTH_BUILD_ENV_FILE deploys an app that needs the registry', async () => {
    const server = await startTestServer('sqlite', { env: { BERTH_BUILD_ENV_FILE: envFile } });
    try {
      const token = server.adminToken;
      const created = await server.request('POST', '/apps', { token, body: { name: 'corp1' } });
      assert.equal(created.status, 201);
      const record = await deploy(server, token, 'corp1', {
        'package.json': JSON.stringify({
          name: 'corp1',
          version: '1.0.0',
          scripts: { start: 'node server.js' },
          dependencies: { [registry.packageName]: registry.version },
        }),
        'server.js': `require('http').createServer((q, s) => s.end(require('${registry.packageName}')))
  .listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
      });
      assert.equal(record.status, 'succeeded', record.details.error ?? '');
      const reply = await viaRouter(server.server.routerUrl, 'corp1');
      assert.equal(reply.text, `${registry.packageName} ${registry.version}`);
      assert.match(server.logText(), /builds get the host's network settings/);
    } finally {
      await server.close();
    }
  });

  it('gives a generated image build the settings in its fetching steps only', async () => {
    const { engine } = await connectTestEngine();
    const context = join(dir, 'image-app');
    await mkdir(context, { recursive: true });
    // No dependency (the registry on the host's loopback is out of the container's reach):
    // the build script shows what a fetching step sees.
    await writeFile(
      join(context, 'package.json'),
      JSON.stringify({
        name: 'corp-image',
        version: '1.0.0',
        scripts: {
          build:
            "node -e \"const fs=require('fs');" +
            "console.log('ca:'+fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS,'utf8').includes('BEGIN CERTIFICATE'));" +
            "console.log('registry:'+process.env.npm_config_registry);" +
            "console.log('copied:'+fs.existsSync('/app/.berth'))\"",
        },
      }),
    );
    const tag = `localhost/berth-test/build-network:${process.pid}`;
    const lines: string[] = [];
    try {
      await buildImage({
        engine,
        dir: context,
        stack: Stacks.node,
        tag,
        baseImages: { node: testBaseImage('node'), python: testBaseImage('python') },
        log: (line) => lines.push(line),
        network,
      });
      const text = lines.join('\n');
      assert.match(text, /^ca:true$/m, text);
      assert.ok(text.includes(`registry:${registry.url}`), text);
      assert.match(text, /^copied:false$/m, 'the settings folder is not in the image');
      const history: unknown = await engine.getImage(tag).history();
      assert.ok(!JSON.stringify(history).includes(registry.url), 'no value in the image history');
      const dockerfile = await readFile(join(context, '.berth', 'Dockerfile'), 'utf8');
      assert.match(dockerfile, /RUN --mount=type=bind,source=\.berth\/build-network,target=/);
    } finally {
      await removeImage(engine, tag).catch(() => undefined);
    }
  });
});
