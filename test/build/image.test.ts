// Image builds on a real Podman (Docker Engine API): generated Dockerfiles per stack, the
// app's own Dockerfile, the layer cache on a code-only redeploy, failures, abort and timeout.
// BERTH_TEST_ENGINE_SOCKET, BERTH_TEST_NODE_IMAGE (with npm) and BERTH_TEST_PYTHON_IMAGE
// (python3 + venv) name the engine and the base images; none can be pulled here.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '../../src/engine/index.js';
import {
  appImageRepository,
  BuildFailure,
  BuildFailureReasons,
  buildImage,
  DEFAULT_DOCKERIGNORE,
  describeBuildFailure,
  FAILURE_TAIL_LINES,
  defaultBaseImages,
  generateDockerfile,
  imageExists,
  isRootUser,
  LOCAL_BASE_IMAGES,
  OFFICIAL_BASE_IMAGES,
  removeAppImages,
  removeImage,
  resolveBaseImages,
  ROOT_USER_WARNING,
  Stacks,
  tagImage,
  type BaseImages,
  type BuiltImage,
  type Stack,
} from '../../src/build/index.js';
import type { BundleFiles } from '../support/bundles.js';
import { connectTestEngine, testBaseImage } from '../support/engine.js';
import { scratch } from './support/archives.js';

const baseImages: BaseImages = { node: testBaseImage('node'), python: testBaseImage('python') };
/** Unique per run, so a first build never finds another run's layers in the cache. */
const run = randomUUID().slice(0, 8);

let engine: Engine;
let root: string;
let cleanup: () => Promise<void>;
let counter = 0;
const tags: string[] = [];

before(async () => {
  ({ engine } = await connectTestEngine());
  ({ dir: root, cleanup } = await scratch('berth-image-'));
});

after(async () => {
  for (const tag of tags) await removeImage(engine, tag);
  await cleanup();
});

async function project(files: BundleFiles): Promise<string> {
  const dir = join(root, `app-${++counter}`);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

function newTag(): string {
  const tag = `localhost/berth-test/image-${run}:${++counter}`;
  tags.push(tag);
  return tag;
}

async function build(
  dir: string,
  stack: Stack,
  extra: { signal?: AbortSignal; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<BuiltImage & { lines: string[] }> {
  const lines: string[] = [];
  const built = await buildImage({
    engine,
    dir,
    stack,
    tag: newTag(),
    baseImages,
    timeoutMs: extra.timeoutMs ?? 300_000,
    ...(extra.signal ? { signal: extra.signal } : {}),
    log: (line) => {
      lines.push(line);
      extra.log?.(line);
    },
  });
  return { ...built, lines };
}

/** Runs a container of `image` to its end and returns its output (a TTY: one stream). */
async function runImage(image: string, cmd?: string[]): Promise<{ code: number; output: string }> {
  const container = await engine.createContainer({
    Image: image,
    Tty: true,
    ...(cmd ? { Cmd: cmd } : {}),
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { code: StatusCode, output: logs.toString('utf8') };
  } finally {
    await container.remove({ force: true });
  }
}

async function rejectsWithFailure(
  promise: Promise<unknown>,
  reason: string,
): Promise<BuildFailure> {
  const error = await promise.then(
    () => assert.fail('the build succeeded'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof BuildFailure, `not a BuildFailure: ${String(error)}`);
  assert.equal(error.reason, reason, error.message);
  return error;
}

/** The step every generated Dockerfile starts with: the app's user, its home and /app. */
const CREATE_USER =
  'RUN ["/bin/sh","-c","groupadd --gid 10001 app && ' +
  'useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /bin/sh app && ' +
  'install -d -o 10001 -g 10001 /app"]';

describe('generated Dockerfiles', () => {
  const images: BaseImages = { node: 'node:20-slim', python: 'python:3.12-slim' };

  it('none for a Dockerfile app or a static site', async () => {
    const dir = await project({ Dockerfile: 'FROM scratch\n', 'index.html': '<p>hi</p>' });
    assert.equal(await generateDockerfile(dir, Stacks.dockerfile, images), undefined);
    assert.equal(await generateDockerfile(dir, Stacks.static, images), undefined);
  });

  it('node: manifests and local dependencies, then install, then the code and the build', async () => {
    const dir = await project({
      'package.json': JSON.stringify({
        dependencies: { greet: 'file:./vendor/greet' },
        scripts: { build: 'node build.js', start: 'node index.js' },
      }),
      'package-lock.json': '{}',
      'vendor/greet/package.json': '{"name":"greet"}',
    });
    const text = await generateDockerfile(dir, Stacks.node, images);
    const instructions = text?.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    assert.deepEqual(instructions, [
      'FROM node:20-slim',
      CREATE_USER,
      'WORKDIR /app',
      'USER 10001:10001',
      'ENV NODE_ENV=production',
      'COPY --chown=10001:10001 ["package.json","package-lock.json","./"]',
      'COPY --chown=10001:10001 ["vendor/greet","./vendor/greet"]',
      'RUN ["npm","ci","--no-audit","--no-fund","--include=dev"]',
      'COPY --chown=10001:10001 . .',
      'RUN ["npm","run","build"]',
      'RUN ["npm","prune","--omit=dev","--no-audit","--no-fund"]',
    ]);
    assert.match(text ?? '', /no ARG and takes no build args/);
  });

  it('node without dependencies installs nothing; a lock-less one runs npm install', async () => {
    const bare = await project({ 'package.json': '{"scripts":{"start":"node index.js"}}' });
    const text = (await generateDockerfile(bare, Stacks.node, images)) ?? '';
    assert.doesNotMatch(text, /RUN \["npm|package\.json/);
    const unlocked = await project({ 'package.json': '{"dependencies":{"a":"file:a"}}' });
    assert.match(
      (await generateDockerfile(unlocked, Stacks.node, images)) ?? '',
      /COPY --chown=10001:10001 \["package\.json","\.\/"\]\nRUN \["npm","install","--no-audit","--no-fund"\]\n/,
    );
  });

  it('python: a venv without pip when nothing is installed, pip install when requirements name something', async () => {
    const empty = await project({ 'requirements.txt': '# nothing yet\n' });
    const bare = (await generateDockerfile(empty, Stacks.python, images)) ?? '';
    assert.match(
      bare,
      /^FROM python:3\.12-slim\nRUN .*useradd.*\nWORKDIR \/app\nUSER 10001:10001\n/m,
    );
    assert.match(bare, /RUN \["python3","-m","venv","--clear","--without-pip","\/app\/\.venv"\]/);
    assert.doesNotMatch(bare, /pip"?,"install/);
    assert.match(bare, /^ENV PATH=\/app\/\.venv\/bin:\$PATH$/m);
    const named = await project({ 'requirements.txt': 'flask==3.0.0\n' });
    const text = (await generateDockerfile(named, Stacks.python, images)) ?? '';
    assert.match(
      text,
      /COPY --chown=10001:10001 \["requirements\.txt","\.\/"\]\nRUN \["\/app\/\.venv\/bin\/pip","install",.*"-r","requirements\.txt"\]\nCOPY --chown=10001:10001 \. \./,
    );
  });

  it('a Procfile app copies its code onto the node image', async () => {
    const dir = await project({ Procfile: 'web: ./run.sh\n' });
    const text = (await generateDockerfile(dir, Stacks.procfile, images)) ?? '';
    assert.ok(
      text.endsWith(
        `FROM node:20-slim\n${CREATE_USER}\nWORKDIR /app\nUSER 10001:10001\nCOPY --chown=10001:10001 . .\n`,
      ),
      text,
    );
  });

  it('refuses an image name that would add an instruction', async () => {
    const dir = await project({ Procfile: 'web: ./run.sh\n' });
    await assert.rejects(
      generateDockerfile(dir, Stacks.procfile, { ...images, node: 'node\nRUN evil' }),
      TypeError,
    );
  });
});

describe('base images', () => {
  it('env variables win; else a local stack image the engine has; else the official one', async () => {
    assert.deepEqual(defaultBaseImages({}), OFFICIAL_BASE_IMAGES);
    assert.equal(defaultBaseImages({ BERTH_NODE_IMAGE: 'my/node:1' }).node, 'my/node:1');
    const named = await resolveBaseImages(engine, { BERTH_PYTHON_IMAGE: 'my/py:1' });
    assert.equal(named.python, 'my/py:1');
    const resolved = await resolveBaseImages(engine, {});
    for (const stack of ['node', 'python'] as const) {
      const expected = (await imageExists(engine, LOCAL_BASE_IMAGES[stack]))
        ? LOCAL_BASE_IMAGES[stack]
        : OFFICIAL_BASE_IMAGES[stack];
      assert.equal(resolved[stack], expected);
    }
  });

  it('root is no USER, root or uid 0, with or without a group', () => {
    for (const user of ['', ' ', 'root', 'root:root', '0', '0:0', '00', 'root:1000']) {
      assert.equal(isRootUser(user), true, JSON.stringify(user));
    }
    for (const user of ['10001:10001', '1000', 'node', 'app:app', '0x', 'rooted']) {
      assert.equal(isRootUser(user), false, JSON.stringify(user));
    }
  });

  it('app images live in berth/<app>', () => {
    assert.equal(appImageRepository('shop'), 'berth/shop');
    assert.throws(() => appImageRepository('Shop:1'), TypeError);
  });
});

describe('buildImage on a real engine', () => {
  it('builds an app with its own Dockerfile, and its image runs with the CMD it declares', async () => {
    const dir = await project({
      Dockerfile: `FROM ${baseImages.node}\nWORKDIR /srv\nCOPY . .\nCMD ["node", "server.js"]\n`,
      'server.js': `console.log('hello from a Dockerfile ' + process.version);\n`,
    });
    const built = await build(dir, Stacks.dockerfile);
    assert.match(built.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.ok(built.sizeBytes > 0);
    assert.equal(built.steps, 4);
    assert.ok(built.lines.some((line) => /^STEP 1\/4: FROM|^Step 1\/4 : FROM/.test(line)));
    assert.ok(!existsSync(join(dir, '.berth')), 'no Dockerfile is generated for it');
    // No USER line: it builds and runs, and the build says so.
    assert.equal(built.user, '');
    assert.equal(built.runsAsRoot, true);
    assert.equal(built.lines.at(-1), ROOT_USER_WARNING);
    assert.equal(
      ROOT_USER_WARNING,
      'warning: the image runs as root; add a USER line with a non-root user to its Dockerfile',
    );
    const { code, output } = await runImage(built.tag);
    assert.equal(code, 0, output);
    assert.match(output, /hello from a Dockerfile v20\./);

    const other = newTag();
    await tagImage(engine, built.tag, other);
    assert.equal((await engine.getImage(other).inspect()).Id, built.imageId);
    await removeImage(engine, other);
    assert.equal(await imageExists(engine, other), false);
    assert.equal(await imageExists(engine, built.tag), true, 'removing a name keeps the image');
    await removeImage(engine, other); // already gone: not an error
  });

  it('an own Dockerfile with a non-root USER builds without the warning', async () => {
    const dir = await project({ Dockerfile: `FROM ${baseImages.node}\nUSER 1000:1000\n` });
    const built = await build(dir, Stacks.dockerfile);
    assert.equal(built.user, '1000:1000');
    assert.equal(built.runsAsRoot, false);
    assert.ok(!built.lines.some((line) => line.startsWith('warning:')), built.lines.join('\n'));
    const { output } = await runImage(built.tag, ['sh', '-c', 'echo "uid=$(id -u)"']);
    assert.equal(output.trim(), 'uid=1000');
  });

  it('builds a node app without a Dockerfile from the generated one, leaving out node_modules', async () => {
    const dir = await project({
      'package.json': JSON.stringify({ name: 'plain', scripts: { start: 'node index.js' } }),
      'index.js': `const fs = require('node:fs');
console.log('env=' + process.env.NODE_ENV + ' cwd=' + process.cwd());
console.log('node_modules sent: ' + fs.existsSync('node_modules'));`,
      'node_modules/left-behind/index.js': 'module.exports = 1;\n',
    });
    const built = await build(dir, Stacks.node);
    assert.match(await readFile(join(dir, '.berth/Dockerfile'), 'utf8'), /^FROM /m);
    assert.equal(
      await readFile(join(dir, '.dockerignore'), 'utf8'),
      `${DEFAULT_DOCKERIGNORE.join('\n')}\n`,
    );
    const { code, output } = await runImage(built.tag, ['node', 'index.js']);
    assert.equal(code, 0, output);
    assert.match(output, /env=production cwd=\/app/);
    assert.match(output, /node_modules sent: false/);
    const image = await engine.getImage(built.tag).inspect();
    assert.equal(image.Config.User, '10001:10001');
    const who = await runImage(built.tag, ['sh', '-c', 'id; echo "home=$HOME"; touch /app/x']);
    assert.equal(who.code, 0, who.output);
    assert.match(who.output, /^uid=10001\(app\) gid=10001\(app\) groups=10001\(app\)/);
    assert.match(who.output, /home=\/home\/app/);
    assert.ok(!built.lines.some((line) => line.startsWith('warning:')), built.lines.join('\n'));
    const inImage = await runImage(built.tag, [
      'node',
      '-e',
      `console.log(require('fs').readdirSync('.').join(','))`,
    ]);
    assert.doesNotMatch(inImage.output, /\.berth|\.git\b/);
  });

  it('a redeploy that changes only code takes the dependency steps from the cache', async (t) => {
    const files = {
      // The run id makes package.json new to the engine's cache on the first build.
      'package.json': JSON.stringify({
        name: 'cached',
        description: `run ${run}`,
        dependencies: { greet: 'file:./vendor/greet' },
        scripts: { start: 'node index.js' },
      }),
      'vendor/greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0' }),
      'vendor/greet/index.js': `module.exports = (who) => 'hello ' + who;\n`,
      'index.js': `console.log(require('greet')('v1'));\n`,
    };
    let started = Date.now();
    const first = await build(await project(files), Stacks.node);
    const firstMs = Date.now() - started;
    const secondDir = await project({
      ...files,
      'index.js': `console.log(require('greet')('v2'));\n`,
    });
    started = Date.now();
    const second = await build(secondDir, Stacks.node);
    t.diagnostic(
      `first build ${firstMs} ms (${first.cachedSteps}/${first.steps} cached), ` +
        `code-only rebuild ${Date.now() - started} ms (${second.cachedSteps}/${second.steps} cached)`,
    );
    // FROM, RUN useradd, WORKDIR, USER, ENV, COPY manifests, COPY vendor/greet,
    // RUN npm install, COPY . .
    assert.equal(first.steps, 9);
    assert.equal(second.steps, 9);
    // The user, WORKDIR, USER and ENV may be cached from other builds; the install step is new
    // the first time.
    assert.ok(first.cachedSteps <= 4, `first build: ${first.cachedSteps} cached`);
    assert.equal(second.cachedSteps, 7, second.lines.join('\n'));
    assert.ok(first.lines.some((line) => /npm.*install/.test(line)));
    assert.notEqual(second.imageId, first.imageId);
    const { code, output } = await runImage(second.tag, ['node', 'index.js']);
    assert.equal(code, 0, output);
    assert.match(output, /hello v2/);
    // npm ran as the app's user: what it installed is the user's, as is the code.
    const owners = await runImage(second.tag, [
      'stat',
      '-c',
      '%u:%g %n',
      '/app',
      '/app/node_modules',
      '/app/node_modules/greet',
      '/app/index.js',
    ]);
    assert.deepEqual(owners.output.trim().split(/\r?\n/), [
      '10001:10001 /app',
      '10001:10001 /app/node_modules',
      '10001:10001 /app/node_modules/greet',
      '10001:10001 /app/index.js',
    ]);
  });

  it('builds a python app into an image whose python3 is the venv', async () => {
    const dir = await project({
      'requirements.txt': '# no packages\n',
      'main.py': 'print("hi")\n',
      '.venv/bin/python3': 'not the uploader venv\n',
    });
    const built = await build(dir, Stacks.python);
    const { code, output } = await runImage(built.tag, [
      'python3',
      '-c',
      'import sys, os; print("prefix=" + sys.prefix); print("main=" + str(os.path.exists("main.py"))); print("uid=%d venv-owner=%d" % (os.getuid(), os.stat(sys.prefix).st_uid))',
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /prefix=\/app\/\.venv/);
    assert.match(output, /uid=10001 venv-owner=10001/);
    assert.match(output, /main=True/);
  });

  it('removeAppImages removes every tag of berth/<app> and the image with them, nothing of other apps', async () => {
    const app = `rmimg-${run}`;
    const dir = await project({
      Dockerfile: `FROM ${baseImages.node}\nUSER 1000\nLABEL app=${app}\nCOPY . /srv/\n`,
      'code.txt': `code of ${app}\n`,
    });
    const built = await build(dir, Stacks.dockerfile);
    const own = [`berth/${app}:v1`, `berth/${app}:v2`, `berth/${app}:src-0123456789abcdef`];
    // Names that share a prefix with the app's repository but are other apps'.
    const others = [`berth/${app}x:v1`, `berth/${app}-b:v1`];
    for (const tag of [...own, ...others]) await tagImage(engine, built.tag, tag);
    tags.push(...others);
    await removeAppImages(engine, app);
    for (const tag of own) assert.equal(await imageExists(engine, tag), false, tag);
    for (const tag of others) assert.equal(await imageExists(engine, tag), true, tag);
    const listed = await engine.listImages({ filters: { reference: [`berth/${app}`] } });
    assert.deepEqual(listed, []);
    await removeAppImages(engine, app); // none left: not an error

    // Its last name gone, the image itself goes.
    const lonely = `rmimg2-${run}`;
    await tagImage(engine, built.tag, `berth/${lonely}:v1`);
    await removeImage(engine, built.tag);
    for (const tag of others) await removeImage(engine, tag);
    await removeAppImages(engine, lonely);
    assert.equal(await imageExists(engine, built.imageId), false, 'the image is gone');

    // The last name of an image a container uses stays, and the call says so.
    const busy = `rmimg3-${run}`;
    const busyBuild = await build(
      await project({ Dockerfile: `FROM ${baseImages.node}\nLABEL busy=${busy}\n` }),
      Stacks.dockerfile,
    );
    await tagImage(engine, busyBuild.tag, `berth/${busy}:v1`);
    await removeImage(engine, busyBuild.tag);
    const container = await engine.createContainer({ Image: `berth/${busy}:v1`, Cmd: ['true'] });
    try {
      await assert.rejects(
        removeAppImages(engine, busy),
        new RegExp(`still used by a container were kept: .*berth/${busy}:v1`),
      );
      assert.equal(await imageExists(engine, `berth/${busy}:v1`), true);
    } finally {
      await container.remove({ force: true });
    }
    await removeAppImages(engine, busy);
    assert.equal(await imageExists(engine, busyBuild.imageId), false);
  });

  it("removing an app's image leaves alone another build running on the steps they share", async () => {
    // Both Dockerfiles begin with the same steps, so the second build runs on the cached
    // untagged images of the first. Removing the first image while the second build sits in
    // its own RUN step must not take those images, and the build container with them.
    const shared = `FROM ${baseImages.node}\nRUN echo shared-${run} > /shared\nRUN echo two > /two\n`;
    const first = await build(
      await project({ Dockerfile: `${shared}LABEL first=${run}\n` }),
      Stacks.dockerfile,
    );
    let inRun!: () => void;
    const running = new Promise<void>((resolve) => (inRun = resolve));
    const second = build(
      await project({
        Dockerfile: `${shared}RUN echo second-started-${run} && sleep 4\nUSER 1000\n`,
      }),
      Stacks.dockerfile,
      { log: (line) => line.includes(`second-started-${run}`) && inRun() },
    );
    await running;
    await removeImage(engine, first.tag);
    assert.equal(await imageExists(engine, first.imageId), false, 'the first image is gone');
    const built = await second;
    assert.equal(await imageExists(engine, built.tag), true, 'the second build finished');
  });

  it('a failing RUN rejects with the failing output, and no image gets the tag', async () => {
    const dir = await project({
      Dockerfile: `FROM ${baseImages.node}\nRUN ["sh", "-c", "echo marker-before-failure-${run}; exit 3"]\n`,
    });
    const tag = newTag();
    const failure = await rejectsWithFailure(
      buildImage({ engine, dir, stack: Stacks.dockerfile, tag, baseImages }),
      BuildFailureReasons.IMAGE_BUILD_FAILED,
    );
    assert.ok(
      failure.lastLines.some((line) => line.includes(`marker-before-failure-${run}`)),
      failure.lastLines.join('\n'),
    );
    assert.match(failure.message, /exit status 3|non-zero code: 3/);
    assert.equal(failure.retryable, false);
    assert.equal(await imageExists(engine, tag), false);
    // What the deployment's error says: the engine's error once, then the last lines once.
    const told = describeBuildFailure(failure);
    assert.equal(told.split(/exit status 3|non-zero code: 3/).length, 2, told);
    assert.equal(
      told.split(`marker-before-failure-${run}`).length - 1,
      2,
      'the RUN line, its output',
    );
    const tail = told.split('\nlast lines of the build:\n')[1]?.split('\n') ?? [];
    assert.ok(tail.length > 0 && tail.length <= FAILURE_TAIL_LINES, told);
  });

  it('a FROM image that cannot be pulled is named, with why and what to do', async () => {
    const dir = await project({ Dockerfile: 'FROM doesnotexist.invalid/nope:1\nRUN true\n' });
    const tag = newTag();
    const failure = await rejectsWithFailure(
      buildImage({ engine, dir, stack: Stacks.dockerfile, tag, baseImages }),
      BuildFailureReasons.IMAGE_BUILD_FAILED,
    );
    assert.match(
      failure.message,
      /^the base image doesnotexist\.invalid\/nope:1 is not on the container engine and could not be pulled: no registry is reachable from the engine \(doesnotexist\.invalid does not resolve\)/,
    );
    assert.match(failure.message, /'berth stacks build'/);
    assert.match(failure.message, /a registry the engine can reach/);
    const told = describeBuildFailure(failure);
    assert.ok(!told.includes('%!q'), told);
    assert.ok(!/initializing source/.test(told), 'the engine’s raw words stay in the log');
    assert.equal(await imageExists(engine, tag), false);
  });

  it('an aborted build rejects at once, as retryable, and leaves no tag', async () => {
    const dir = await project({
      Dockerfile: `FROM ${baseImages.node}\nRUN ["sh", "-c", "echo sleeping-${run}; sleep 30"]\n`,
    });
    const controller = new AbortController();
    const tag = newTag();
    const started = Date.now();
    const failure = await rejectsWithFailure(
      buildImage({
        engine,
        dir,
        stack: Stacks.dockerfile,
        tag,
        baseImages,
        signal: controller.signal,
        log: (line) => {
          if (line === `sleeping-${run}`) controller.abort();
        },
      }),
      BuildFailureReasons.ABORTED,
    );
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    assert.equal(failure.retryable, true);
    assert.ok(failure.lastLines.includes(`sleeping-${run}`));
    assert.equal(await imageExists(engine, tag), false);
  });

  it('a build past its time limit rejects as timed out', async () => {
    const dir = await project({
      Dockerfile: `FROM ${baseImages.node}\nRUN ["sh", "-c", "sleep 30"]\n`,
    });
    const tag = newTag();
    const failure = await rejectsWithFailure(
      buildImage({ engine, dir, stack: Stacks.dockerfile, tag, baseImages, timeoutMs: 1500 }),
      BuildFailureReasons.TIMED_OUT,
    );
    assert.match(failure.message, /longer than 1\.5 s/);
    assert.equal(await imageExists(engine, tag), false);
  });
});
