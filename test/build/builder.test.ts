// The process runtime's builder with the real npm and python3: what each stack runs, build
// output and failures, the time limit and abort (whole process groups), the build's minimal
// environment, and what units of a slug get (runtimeEnv, resolveCommand).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BuildFailure,
  BuildFailureReasons,
  buildSlug,
  KILL_GRACE_MS,
  resolveCommand,
  runtimeEnv,
  type BuildResult,
  type Stack,
} from '../../src/build/index.js';
import { LineSplitter } from '../../src/build/builder/output-lines.js';
import type { BundleFiles } from '../support/bundles.js';
import {
  failingBuildApp,
  nodeAppWithBuild,
  nodeHelloApp,
  pythonHelloApp,
  staticSite,
} from '../support/sample-apps.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-builder-'));
  // Real paths: a venv records them, and the assertions compare against them.
  root = await realpath(root);
});
after(() => cleanup());

/** A fresh directory holding `files`, as the deploy task leaves an extracted bundle. */
async function project(files: BundleFiles): Promise<string> {
  const dir = join(root, `slug-${++counter}`);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

interface Built {
  readonly result: BuildResult;
  readonly lines: string[];
}

async function build(
  dir: string,
  stack: Stack,
  options: { timeoutMs?: number; signal?: AbortSignal; env?: Record<string, string> } = {},
): Promise<Built> {
  const lines: string[] = [];
  const result = await buildSlug({
    dir,
    stack,
    timeoutMs: options.timeoutMs ?? 60_000,
    signal: options.signal ?? new AbortController().signal,
    log: (line) => lines.push(line),
    ...(options.env ? { env: options.env } : {}),
  });
  return { result, lines };
}

/** Runs a build that must fail, and returns its BuildFailure and the lines logged. */
async function failedBuild(
  dir: string,
  stack: Stack,
  options: Parameters<typeof build>[2] & { onLine?: (line: string) => void } = {},
): Promise<{ failure: BuildFailure; lines: string[]; ms: number }> {
  const lines: string[] = [];
  const started = Date.now();
  try {
    await buildSlug({
      dir,
      stack,
      timeoutMs: options.timeoutMs ?? 60_000,
      signal: options.signal ?? new AbortController().signal,
      log: (line) => {
        lines.push(line);
        options.onLine?.(line);
      },
      ...(options.env ? { env: options.env } : {}),
    });
  } catch (error) {
    assert.ok(error instanceof BuildFailure, `expected a BuildFailure, got ${String(error)}`);
    return { failure: error, lines, ms: Date.now() - started };
  }
  assert.fail('the build succeeded');
}

const names = (result: BuildResult) => result.commands.map((c) => c.name);

/** Whether a process still runs; an orphan nobody reaped (a zombie) counts as gone. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Asserts that the processes are gone within a moment: the build returns once the group is
 * signalled, and a process that got SIGKILL may take a few milliseconds to be gone.
 */
async function assertGone(pids: readonly number[]): Promise<void> {
  for (let waited = 0; pids.some(running) && waited < 1000; waited += 20) await sleep(20);
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} still runs`);
}

/**
 * A build script that starts a grandchild (`sleep 30` in the same process group), records
 * both process ids in pids.json, says 'started', and never ends.
 */
const hangingBuild: BundleFiles = {
  'package.json': JSON.stringify({ scripts: { build: 'node build.js', start: 'node x.js' } }),
  'build.js': `const { spawn } = require('child_process');
const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
require('fs').writeFileSync('pids.json', JSON.stringify([process.pid, sleeper.pid]));
console.log('started');
setInterval(() => {}, 1000);
`,
};

async function hangingPids(dir: string): Promise<number[]> {
  return JSON.parse(await readFile(join(dir, 'pids.json'), 'utf8')) as number[];
}

/** A local package with a `greet` bin, installed by a `file:` dependency: no registry needed. */
const withLocalDependency: BundleFiles = {
  'package.json': JSON.stringify({
    name: 'app',
    version: '1.0.0',
    dependencies: { greeter: 'file:vendor/greeter' },
    scripts: { build: 'greet > greeting.txt', start: 'node server.js' },
  }),
  'package-lock.json': JSON.stringify({
    name: 'app',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'app', version: '1.0.0', dependencies: { greeter: 'file:vendor/greeter' } },
      'node_modules/greeter': { resolved: 'vendor/greeter', link: true },
      'vendor/greeter': { version: '1.0.0', bin: { greet: 'bin.js' } },
    },
  }),
  'vendor/greeter/package.json': JSON.stringify({
    name: 'greeter',
    version: '1.0.0',
    main: 'index.js',
    bin: { greet: 'bin.js' },
  }),
  'vendor/greeter/index.js': "module.exports = () => 'hello from greeter';\n",
  'vendor/greeter/bin.js': "#!/usr/bin/env node\nconsole.log(require('./index.js')());\n",
};

describe('buildSlug', { concurrency: true }, () => {
  it('runs nothing for a node app without dependencies or a build script', async () => {
    const dir = await project(nodeHelloApp);
    const { result, lines } = await build(dir, 'node');
    assert.deepEqual(result.commands, []);
    assert.deepEqual(lines, []);
    assert.ok(result.durationMs < 500, `took ${result.durationMs} ms`);
    assert.equal(existsSync(join(dir, 'node_modules')), false);
  });

  it('runs npm ci with a lock file, installing a file: dependency, then the build script', async () => {
    const dir = await project(withLocalDependency);
    await chmod(join(dir, 'vendor/greeter/bin.js'), 0o755);
    const { result, lines } = await build(dir, 'node');
    assert.deepEqual(names(result), ['npm ci', 'npm run build']);
    assert.deepEqual(result.commands[0]?.argv, ['npm', 'ci', '--no-audit', '--no-fund']);
    assert.ok(result.commands.every((c) => c.durationMs >= 0));
    assert.ok(lines.includes('$ npm ci --no-audit --no-fund'), lines.join('\n'));
    assert.ok(existsSync(join(dir, 'node_modules/greeter/package.json')));
    // The build script found the dependency's bin on PATH, as npm run promises.
    assert.equal(await readFile(join(dir, 'greeting.txt'), 'utf8'), 'hello from greeter\n');
  });

  it('runs npm install without a lock file', async () => {
    const files: Record<string, string> = { ...withLocalDependency };
    delete files['package-lock.json'];
    const dir = await project(files);
    await chmod(join(dir, 'vendor/greeter/bin.js'), 0o755);
    const { result } = await build(dir, 'node');
    assert.deepEqual(names(result), ['npm install', 'npm run build']);
    assert.ok(existsSync(join(dir, 'node_modules/greeter/package.json')));
  });

  it('runs the build script of a dependency-free app and logs its output', async () => {
    const dir = await project(nodeAppWithBuild);
    const { result, lines } = await build(dir, 'node');
    assert.deepEqual(names(result), ['npm run build']);
    assert.ok(lines.includes('building public/built.txt'), lines.join('\n'));
    assert.ok(lines.includes('build done'), lines.join('\n'));
    assert.equal(await readFile(join(dir, 'public/built.txt'), 'utf8'), 'built at build time\n');
  });

  it('fails with the exit code and the last output lines of a failing build script', async () => {
    const dir = await project(failingBuildApp);
    const { failure, lines } = await failedBuild(dir, 'node');
    assert.equal(failure.message, 'npm run build exited with code 1');
    assert.equal(failure.reason, BuildFailureReasons.COMMAND_FAILED);
    assert.equal(failure.retryable, false);
    for (const line of ['build step 1', 'build step 2', 'build failed on purpose']) {
      assert.ok(failure.lastLines.includes(line), failure.lastLines.join('\n'));
      assert.ok(lines.includes(line));
    }
    assert.ok(failure.lastLines.length <= 20);
  });

  it('kills the whole process group when the build outlives its time limit', async () => {
    const dir = await project(hangingBuild);
    // Long enough for npm to start the script even while the other tests run.
    const { failure, lines, ms } = await failedBuild(dir, 'node', { timeoutMs: 4500 });
    assert.equal(failure.reason, BuildFailureReasons.TIMED_OUT);
    assert.match(failure.message, /^the build timed out after 4\.5 s/);
    assert.ok(lines.includes('started'), lines.join('\n'));
    // SIGTERM reaches npm, the shell, the script and its grandchild at once: no 5 s grace.
    assert.ok(ms >= 4400 && ms < 7500, `took ${ms} ms`);
    await assertGone(await hangingPids(dir));
  });

  it('kills the whole process group when the signal aborts the build', async () => {
    const dir = await project(hangingBuild);
    const controller = new AbortController();
    const { failure, ms } = await failedBuild(dir, 'node', {
      signal: controller.signal,
      onLine: (line) => line === 'started' && controller.abort(),
    });
    assert.equal(failure.reason, BuildFailureReasons.ABORTED);
    assert.equal(failure.retryable, true);
    assert.ok(ms < 5000, `took ${ms} ms`);
    await assertGone(await hangingPids(dir));
  });

  it('sends SIGKILL to a build that ignores SIGTERM, after the grace period', async () => {
    const dir = await project({
      ...hangingBuild,
      'build.js': `process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
${hangingBuild['build.js'] ?? ''}`,
    });
    const controller = new AbortController();
    let abortedAt = 0;
    const { failure, lines } = await failedBuild(dir, 'node', {
      signal: controller.signal,
      onLine: (line) => {
        if (line !== 'started') return;
        abortedAt = Date.now();
        controller.abort();
      },
    });
    const ms = Date.now() - abortedAt;
    assert.equal(failure.reason, BuildFailureReasons.ABORTED);
    assert.ok(lines.includes('ignoring SIGTERM'), lines.join('\n'));
    assert.ok(ms >= KILL_GRACE_MS && ms < KILL_GRACE_MS + 2000, `took ${ms} ms after the abort`);
    await assertGone(await hangingPids(dir));
  });

  it('does not start when the signal is already aborted', async () => {
    const dir = await project(nodeAppWithBuild);
    const { failure } = await failedBuild(dir, 'node', { signal: AbortSignal.abort() });
    assert.equal(failure.reason, BuildFailureReasons.ABORTED);
    assert.equal(existsSync(join(dir, 'public')), false);
  });

  it('keeps the controller secrets out of the build environment', async () => {
    const secrets = {
      BERTH_MASTER_KEY: 'fake-master-key-0123456789',
      BERTH_DATABASE_URL: 'postgres://berth:fake-password@db/berth',
    };
    const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
    Object.assign(process.env, secrets);
    try {
      const dir = await project({
        'package.json': JSON.stringify({ scripts: { build: 'node env.js' } }),
        'env.js': "for (const [k, v] of Object.entries(process.env)) console.log(k + '=' + v);\n",
      });
      const { lines } = await build(dir, 'node', { env: { GIVEN_BY_CALLER: 'yes' } });
      assert.ok(lines.includes('GIVEN_BY_CALLER=yes'), lines.join('\n'));
      assert.ok(lines.some((line) => line.startsWith('PATH=')));
      for (const line of lines) {
        assert.ok(!line.startsWith('BERTH_'), line);
        for (const value of Object.values(secrets)) assert.ok(!line.includes(value), line);
      }
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('cuts output lines longer than 4 KiB', async () => {
    const dir = await project({
      'package.json': JSON.stringify({ scripts: { build: 'node long.js' } }),
      'long.js': "console.log('x'.repeat(10000)); console.log('after');\n",
    });
    const { lines } = await build(dir, 'node');
    assert.ok(lines.includes(`${'x'.repeat(4096)}…`));
    assert.ok(lines.includes('after'));
  });

  it('creates a venv without pip for a python app with nothing to install', async () => {
    const dir = await project(pythonHelloApp);
    const { result } = await build(dir, 'python');
    assert.deepEqual(names(result), ['python3 -m venv']);
    assert.ok(result.commands[0]?.argv.includes('--without-pip'));
    const python = join(dir, '.venv/bin/python');
    const prefix = execFileSync(python, ['-c', 'import sys; print(sys.prefix)'], {
      encoding: 'utf8',
    });
    assert.equal(prefix.trim(), join(dir, '.venv'));
    // The Procfile says `python app.py`: runtimeEnv's PATH makes that the venv's python.
    const env = runtimeEnv(dir, 'python', process.env['PATH'] ?? '');
    const found = execFileSync('sh', ['-c', 'command -v python'], { env, encoding: 'utf8' });
    assert.equal(found.trim(), python);
  });

  it('treats a requirements.txt of comments and blank lines as nothing to install', async () => {
    const dir = await project({
      'requirements.txt': '# no dependencies yet\n\n   # indented comment\n',
      'app.py': 'print("hi")\n',
    });
    const { result } = await build(dir, 'python');
    assert.deepEqual(names(result), ['python3 -m venv']);
  });

  it('fails with pip’s last lines when a requirement cannot be fetched', async () => {
    const dir = await project({ 'requirements.txt': 'surely-not-a-package==1.0.0\n' });
    // A closed local port as the index: pip fails at once instead of waiting for PyPI.
    const env = { PIP_INDEX_URL: 'http://127.0.0.1:9/simple', PIP_RETRIES: '0' };
    const { failure, lines } = await failedBuild(dir, 'python', { env });
    assert.ok(
      lines.some((line) => line.startsWith('$ .venv/bin/pip install')),
      lines.join('\n'),
    );
    assert.equal(failure.message, 'pip install exited with code 1');
    assert.ok(
      failure.lastLines.some((line) => line.includes('surely-not-a-package')),
      failure.lastLines.join('\n'),
    );
  });

  it('builds nothing for static and Procfile apps, and refuses a Dockerfile', async () => {
    const dir = await project(staticSite);
    assert.deepEqual((await build(dir, 'static')).result.commands, []);
    assert.deepEqual((await build(dir, 'procfile')).result.commands, []);
    assert.deepEqual((await build(dir, 'unknown')).result.commands, []);
    const { failure } = await failedBuild(dir, 'dockerfile');
    assert.equal(failure.reason, BuildFailureReasons.UNSUPPORTED_STACK);
    assert.match(failure.message, /--runtime container/);
  });

  it('refuses a node app whose package.json is not JSON', async () => {
    const dir = await project({ 'package.json': '{ nope', Procfile: 'web: node x.js\n' });
    const { failure } = await failedBuild(dir, 'node');
    assert.equal(failure.reason, BuildFailureReasons.INVALID_PROJECT);
  });
});

describe('runtimeEnv', () => {
  it('puts the slug’s node_modules/.bin and .venv/bin in front of PATH, when they exist', async () => {
    const dir = await project({ 'package.json': '{}' });
    assert.deepEqual(runtimeEnv(dir, 'node', '/usr/bin:/bin'), {
      PATH: '/usr/bin:/bin',
      NODE_ENV: 'production',
    });
    await mkdir(join(dir, 'node_modules/.bin'), { recursive: true });
    await mkdir(join(dir, '.venv/bin'), { recursive: true });
    const env = runtimeEnv(dir, 'node', '/usr/bin:/bin');
    assert.deepEqual(env['PATH']?.split(delimiter), [
      join(dir, 'node_modules/.bin'),
      join(dir, '.venv/bin'),
      '/usr/bin',
      '/bin',
    ]);
    assert.equal(env['VIRTUAL_ENV'], join(dir, '.venv'));
  });

  it('sets VIRTUAL_ENV and unbuffered output for python slugs, nothing more for static', async () => {
    const dir = await project({ 'requirements.txt': '' });
    await mkdir(join(dir, '.venv/bin'), { recursive: true });
    assert.deepEqual(runtimeEnv(dir, 'python', '/bin'), {
      PATH: `${join(dir, '.venv/bin')}:/bin`,
      VIRTUAL_ENV: join(dir, '.venv'),
      PYTHONUNBUFFERED: '1',
    });
    assert.deepEqual(runtimeEnv(await project(staticSite), 'static', '/bin'), { PATH: '/bin' });
  });
});

describe('resolveCommand', () => {
  const app = (scripts: Record<string, string>) =>
    project({ 'package.json': JSON.stringify({ scripts }) });

  it('turns `npm start` into the start script’s command line', async () => {
    const dir = await app({ start: 'node server.js --port "$PORT"' });
    assert.equal(await resolveCommand(dir, 'npm start'), 'node server.js --port "$PORT"');
  });

  it('keeps `npm start` when prestart or poststart hooks exist, or there is no start script', async () => {
    assert.equal(
      await resolveCommand(await app({ start: 'node a.js', prestart: 'node b.js' }), 'npm start'),
      'npm start',
    );
    assert.equal(
      await resolveCommand(await app({ start: 'node a.js', poststart: 'x' }), 'npm start'),
      'npm start',
    );
    assert.equal(await resolveCommand(await app({}), 'npm start'), 'npm start');
    const broken = await project({ 'package.json': 'not json' });
    assert.equal(await resolveCommand(broken, 'npm start'), 'npm start');
  });

  it('leaves every other command alone', async () => {
    const dir = await app({ start: 'node a.js' });
    for (const command of ['node a.js', 'npm run start', 'npm start --inspect', ' npm start']) {
      assert.equal(await resolveCommand(dir, command), command);
    }
  });
});

describe('LineSplitter', () => {
  it('joins UTF-8 characters and lines split across chunks, drops \\r, cuts long lines', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const text = Buffer.from('héllo\r\nwor');
    splitter.write(text.subarray(0, 2)); // cuts 'é' in half
    splitter.write(text.subarray(2));
    splitter.write(Buffer.from(`ld\n${'y'.repeat(5000)}`));
    splitter.write(Buffer.from('yyy\nlast'));
    splitter.end();
    assert.deepEqual(lines, ['héllo', 'world', `${'y'.repeat(4096)}…`, 'last']);
  });
});
