// Berth's stack base images on a real engine (BERTH_TEST_ENGINE_SOCKET, a Podman service that
// scripts/run-tests.ts starts): containers run from them, and builds that cannot work say why.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildStackImages,
  STACK_IMAGES,
  StackBuildError,
  StackBuildFailureReasons,
} from '../../src/build/stacks/index.js';
import { imageExists as engineImageExists, type Engine } from '../../src/engine/index.js';
import { connectTestEngine } from '../support/engine.js';
import { scratch } from './support/archives.js';

const notRoot = process.getuid?.() === 0 ? false : 'building stack images needs root';

let engine: Engine;

/** Splits the Engine API's multiplexed log stream (8-byte frame headers) into stdout/stderr. */
function demux(buffer: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    const text = buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    if (stream === 2) out.stderr += text;
    else out.stdout += text;
    offset += 8 + size;
  }
  return out;
}

/** Runs `cmd` in a fresh container of `image` without a network; its exit code and output. */
async function run(image: string, cmd: string[]) {
  const container = await engine.createContainer({
    Image: image,
    Cmd: cmd,
    // A run killed half-way leaves its container behind; the label says whose it is.
    Labels: { 'io.berth.test': 'build/stacks' },
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { code: StatusCode, ...demux(Buffer.from(logs)) };
  } finally {
    await container.remove({ force: true });
  }
}

function imageExists(image: string): Promise<boolean> {
  return engineImageExists(engine, image);
}

describe('stack base images', () => {
  before(async () => {
    ({ engine } = await connectTestEngine());
    // run-tests.ts built them already; this is a ping per image then (and a build otherwise).
    await buildStackImages({ engine });
  });

  it('node runs the controller’s Node and npm, with /usr/local/bin on PATH and no WORKDIR', async () => {
    const image = STACK_IMAGES.node;
    const node = await run(image, ['node', '-v']);
    assert.equal(node.code, 0, node.stderr);
    assert.equal(node.stdout.trim(), process.version);
    const npmDir = path.join(path.dirname(path.dirname(process.execPath)), 'lib/node_modules/npm');
    const { version } = JSON.parse(await readFile(path.join(npmDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    const npm = await run(image, ['npm', '-v']);
    assert.equal(npm.code, 0, npm.stderr);
    assert.equal(npm.stdout.trim(), version);
    const npx = await run(image, ['npx', '--version']);
    assert.equal(npx.code, 0, npx.stderr);
    const { Config } = await engine.getImage(image).inspect();
    const pathEnv = Config.Env.find((e) => e.startsWith('PATH=')) ?? '';
    assert.ok(pathEnv.split(/[=:]/).includes('/usr/local/bin'), pathEnv);
    assert.ok(!Config.WorkingDir, `WORKDIR is '${Config.WorkingDir}'`);
    const certs = await run(image, ['ls', '/etc/ssl/certs/ca-certificates.crt']);
    assert.equal(certs.code, 0, certs.stderr);
  });

  it('python has python3 and a working venv (with pip from ensurepip)', async () => {
    const image = STACK_IMAGES.python;
    const venv = await run(image, ['python3', '-c', 'import venv']);
    assert.equal(venv.code, 0, venv.stderr);
    const made = await run(image, [
      'sh',
      '-c',
      'python3 -m venv /tmp/v && /tmp/v/bin/python -m pip --version',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^pip \d+/);
  });

  describe('a build that cannot work', { skip: notRoot }, () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    before(async () => {
      tmp = await scratch('berth-stacks-test-');
    });
    after(() => tmp.cleanup());

    it('an unreachable mirror fails fast, with debootstrap’s last lines, and leaves nothing', async () => {
      const image = `localhost/berth-test/stack-bad-mirror:${process.pid}`;
      const started = performance.now();
      await assert.rejects(
        buildStackImages({
          engine,
          only: ['node'],
          force: true,
          mirror: 'http://127.0.0.1:9/debian',
          images: { node: image },
          tmpDir: tmp.dir,
        }),
        (error: unknown) => {
          assert.ok(error instanceof StackBuildError, String(error));
          assert.equal(error.reason, StackBuildFailureReasons.DEBOOTSTRAP_FAILED);
          assert.equal(error.image, image);
          assert.match(error.message, /debootstrap of .* from http:\/\/127\.0\.0\.1:9\/debian/);
          assert.match(error.message, /Failed getting release file|Connection refused/);
          assert.ok(error.lastLines.length > 0);
          return true;
        },
      );
      assert.ok(performance.now() - started < 30_000, 'a refused mirror fails in seconds');
      assert.equal(await imageExists(image), false);
      assert.deepEqual(await readdir(tmp.dir), []);
    });

    it('a missing debootstrap says which package to install, and leaves nothing', async () => {
      const image = `localhost/berth-test/stack-no-debootstrap:${process.pid}`;
      await assert.rejects(
        buildStackImages({
          engine,
          only: ['python'],
          force: true,
          mirror: 'http://127.0.0.1:9/debian',
          images: { python: image },
          debootstrap: '/nonexistent/debootstrap',
          tmpDir: tmp.dir,
        }),
        (error: unknown) => {
          assert.ok(error instanceof StackBuildError, String(error));
          assert.equal(error.reason, StackBuildFailureReasons.TOOL_MISSING);
          assert.match(error.message, /apt-get install -y debootstrap/);
          return true;
        },
      );
      assert.equal(await imageExists(image), false);
      assert.deepEqual(await readdir(tmp.dir), []);
    });
  });
});
