import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BundleError,
  BundleErrorReasons,
  HEALTHCHECK_DEFAULTS,
  readProject,
  type BundleErrorReason,
  type Project,
} from '../../src/build/index.js';
import { shellCommand } from '../../src/domain/releases/index.js';
import { locateJsonSyntaxError } from '../../src/build/project/json-syntax.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-project-'));
});
after(() => cleanup());

/** A project directory holding `files` (a trailing '/' makes a directory). */
async function project(files: Record<string, string> = {}): Promise<string> {
  const dir = join(root, `p${++counter}`);
  await mkdir(dir);
  for (const [name, contents] of Object.entries(files)) {
    if (name.endsWith('/')) await mkdir(join(dir, name), { recursive: true });
    else {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), contents);
    }
  }
  return dir;
}

async function read(files: Record<string, string>): Promise<Project> {
  return readProject(await project(files));
}

function berth(value: unknown): Record<string, string> {
  return { 'berth.json': JSON.stringify(value) };
}

async function assertRefused(
  files: Record<string, string>,
  reason: BundleErrorReason,
  message?: string | RegExp,
): Promise<void> {
  await assert.rejects(readProject(await project(files)), (error) => {
    assert.ok(error instanceof BundleError, `expected a BundleError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (typeof message === 'string') assert.ok(error.message.includes(message), error.message);
    else if (message) assert.match(error.message, message);
    return true;
  });
}

describe('readProject: stack detection and default processes', () => {
  it('an empty project: unknown stack, nothing declared', async () => {
    assert.deepEqual(await read({}), {
      metadata: {},
      stack: 'unknown',
      processes: {},
      processSource: 'stack',
      processErrors: {},
      env: {},
      addons: [],
      formation: {},
      sizes: {},
      cron: [],
      scripts: {},
      warnings: [],
    });
  });

  it('dockerfile comes first, and runs the image CMD as web', async () => {
    const p = await read({
      Dockerfile: 'FROM scratch\n',
      'package.json': '{"scripts":{"start":"node ."}}',
      'index.html': '<p>hi</p>',
    });
    assert.equal(p.stack, 'dockerfile');
    assert.deepEqual(p.processes, { web: { kind: 'image' } });
    assert.deepEqual(p.formation, { web: 1 });
    assert.deepEqual(p.processErrors, { web: null });
  });

  it('node: npm start as web when package.json has a start script', async () => {
    const p = await read({
      'package.json': '{"scripts":{"start":"node server.js"}}',
      'requirements.txt': 'flask\n',
    });
    assert.equal(p.stack, 'node');
    assert.deepEqual(p.processes, { web: shellCommand('npm start') });
    assert.equal(p.processSource, 'stack');
  });

  it('node without a start script is refused, unless a Procfile declares processes', async () => {
    await assertRefused(
      { 'package.json': '{"scripts":{"build":"tsc"}}' },
      BundleErrorReasons.NO_PROCESS,
      "package.json has no 'start' script",
    );
    await assertRefused(
      { 'package.json': '{"scripts":' },
      BundleErrorReasons.PACKAGE_JSON_INVALID,
      'package.json is not valid JSON',
    );
    const p = await read({ 'package.json': '{}', Procfile: 'worker: node worker.js\n' });
    assert.equal(p.stack, 'node');
    assert.deepEqual(p.processes, { worker: shellCommand('node worker.js') });
    assert.equal(p.processSource, 'Procfile');
  });

  it('python: requirements.txt or pyproject.toml, and no default process', async () => {
    for (const file of ['requirements.txt', 'pyproject.toml']) {
      const p = await read({ [file]: '', 'index.html': '' });
      assert.equal(p.stack, 'python');
      assert.deepEqual(p.processes, {});
    }
  });

  it('static: index.html, served by the router as web', async () => {
    const p = await read({ 'index.html': '<h1>hi</h1>' });
    assert.equal(p.stack, 'static');
    assert.deepEqual(p.processes, { web: { kind: 'static' } });
    assert.deepEqual(p.formation, { web: 1 });
  });

  it('static: an index.html in public/, dist/ or build/, or the folder static.root names', async () => {
    for (const folder of ['public', 'dist', 'build']) {
      const p = await read({ [`${folder}/index.html`]: '<h1>hi</h1>' });
      assert.equal(p.stack, 'static', folder);
      assert.deepEqual(p.processes, { web: { kind: 'static' } });
    }
    const named = await read({
      ...berth({ static: { root: './web/out/' } }),
      'web/out/a.html': '',
    });
    assert.equal(named.stack, 'static');
    assert.equal(named.staticRoot, 'web/out');
    // A Procfile app with a public/ folder is still a Procfile app.
    const procfile = await read({ Procfile: 'web: ./server\n', 'public/index.html': '' });
    assert.equal(procfile.stack, 'procfile');
    await assertRefused(
      berth({ static: { root: 'missing' } }),
      BundleErrorReasons.BERTH_JSON_SCHEMA,
      "'static.root' names 'missing', which is not a folder of the bundle",
    );
    for (const bad of ['../up', '/abs', '.git', 'a//b', 'a\\b']) {
      await assertRefused(
        { ...berth({ static: { root: bad } }), 'a/x': '' },
        BundleErrorReasons.BERTH_JSON_SCHEMA,
        /'static.root' must be a folder of the bundle|'static.root' names/,
      );
    }
  });

  it('procfile: only a Procfile', async () => {
    const p = await read({ Procfile: 'web: ./server\n' });
    assert.equal(p.stack, 'procfile');
    assert.deepEqual(p.processes, { web: shellCommand('./server') });
  });

  it('counts only regular files at the root: a directory or a link named Dockerfile is not one', async () => {
    const dir = await project({ 'Dockerfile/': '', 'sub/package.json': '{}' });
    await symlink('/etc/hostname', join(dir, 'index.html'));
    const p = await readProject(dir);
    assert.equal(p.stack, 'unknown');
  });
});

describe('readProject: berth.json', () => {
  it('reads every field, keeping declaration order, with healthcheck defaults', async () => {
    const p = await read(
      berth({
        name: 'shop',
        description: 'A shop.\nWith two lines.',
        author: 'Ada',
        version: '1.2.3',
        processes: { web: 'node web.js', worker: 'node worker.js', clock: 'node clock.js' },
        env: {
          DATABASE_URL: { description: 'where the data lives', required: true },
          GREETING: { value: 'hello' },
        },
        healthcheck: { path: '/healthz' },
        addons: ['postgres', { kind: 'redis', as: 'CACHE' }, { kind: 'postgres', as: 'ANALYTICS' }],
        formation: { worker: 3 },
      }),
    );
    assert.deepEqual(p, {
      metadata: {
        name: 'shop',
        description: 'A shop.\nWith two lines.',
        author: 'Ada',
        version: '1.2.3',
      },
      stack: 'unknown',
      processes: {
        web: shellCommand('node web.js'),
        worker: shellCommand('node worker.js'),
        clock: shellCommand('node clock.js'),
      },
      processSource: 'berth.json',
      processErrors: { web: null, worker: null, clock: null },
      env: {
        DATABASE_URL: { description: 'where the data lives', required: true },
        GREETING: { value: 'hello', required: false },
      },
      healthcheck: { path: '/healthz', ...HEALTHCHECK_DEFAULTS },
      addons: [
        { kind: 'postgres', as: 'DATABASE' },
        { kind: 'redis', as: 'CACHE' },
        { kind: 'postgres', as: 'ANALYTICS' },
      ],
      formation: { web: 1, worker: 3, clock: 0 },
      sizes: {},
      cron: [],
      scripts: {},
      warnings: [],
    });
    assert.deepEqual(Object.keys(p.processes), ['web', 'worker', 'clock']);
  });

  it('berth.json processes win over the Procfile (which is then not even parsed)', async () => {
    const p = await read({
      ...berth({ processes: { web: 'from-berth' } }),
      Procfile: 'this line is broken\n',
      'package.json': '{}',
    });
    assert.deepEqual(p.processes, { web: shellCommand('from-berth') });
    assert.equal(p.stack, 'node');
  });

  it('its formation applies to Procfile processes too', async () => {
    const p = await read({
      ...berth({ formation: { web: 0, worker: 2 } }),
      Procfile: 'web: a\nworker: b\n',
    });
    assert.deepEqual(p.formation, { web: 0, worker: 2 });
  });

  it('accepts exactly 64 KiB and a UTF-8 byte order mark', async () => {
    const body = JSON.stringify({ name: 'x' });
    const padded = `\uFEFF${body}${' '.repeat(64 * 1024 - Buffer.byteLength(body) - 3)}`;
    assert.equal(Buffer.byteLength(padded), 64 * 1024);
    assert.deepEqual((await read({ 'berth.json': padded })).metadata, { name: 'x' });
  });

  it('refuses a berth.json over 64 KiB', async () => {
    await assertRefused(
      { 'berth.json': `{"name":"x"}${' '.repeat(64 * 1024)}` },
      BundleErrorReasons.BERTH_JSON_TOO_LARGE,
      'berth.json is larger than 64 KiB',
    );
  });

  it('refuses invalid JSON, naming line, column and position', async () => {
    await assertRefused(
      { 'berth.json': '{\n  "name": "x",\n  "version" "1"\n}' },
      BundleErrorReasons.BERTH_JSON_INVALID,
      "berth.json is not valid JSON: expected ':' after a property name, found '\"' at line 3, column 13 (position 29)",
    );
    await assertRefused(
      { 'berth.json': '{"name": "x",}' },
      BundleErrorReasons.BERTH_JSON_INVALID,
      "expected a property name in double quotes, found '}' at line 1, column 14 (position 13)",
    );
    await assertRefused(
      { 'berth.json': '' },
      BundleErrorReasons.BERTH_JSON_INVALID,
      'expected a value, found the end of the text at line 1, column 1 (position 0)',
    );
  });

  it('refuses a berth.json that is not a regular file', async () => {
    await assertRefused(
      { 'berth.json/': '' },
      BundleErrorReasons.BERTH_JSON_INVALID,
      'not a regular file',
    );
  });

  it('refuses unknown fields, at the top level and inside', async () => {
    await assertRefused(
      berth({ name: 'x', proceses: {} }),
      BundleErrorReasons.BERTH_JSON_UNKNOWN_FIELD,
      "berth.json: unknown field 'proceses'; berth.json may hold name, description, author, version, processes, env, healthcheck, addons, formation",
    );
    await assertRefused(
      berth({ healthcheck: { path: '/', interval: 3 } }),
      BundleErrorReasons.BERTH_JSON_UNKNOWN_FIELD,
      "unknown field 'healthcheck.interval'",
    );
    await assertRefused(
      berth({ env: { KEY: { value: 'v', secret: true } } }),
      BundleErrorReasons.BERTH_JSON_UNKNOWN_FIELD,
      "unknown field 'env.KEY.secret'",
    );
    await assertRefused(
      berth({ addons: [{ kind: 'redis', plan: 'hobby' }] }),
      BundleErrorReasons.BERTH_JSON_UNKNOWN_FIELD,
      "unknown field 'addons[0].plan'; 'addons[0]' may hold kind, as",
    );
  });

  describe('refuses schema violations', () => {
    const cases: [string, unknown, string][] = [
      [
        'a root that is not an object',
        [1, 2],
        'the file must hold a JSON object; it holds an array',
      ],
      ['a name that is not a string', { name: 3 }, "'name' must be a string; got a number"],
      ['an empty name', { name: '' }, "'name' must have 1 to 100 characters; it has 0"],
      ['a name too long', { name: 'n'.repeat(101) }, "'name' must have 1 to 100 characters"],
      ['a version with a line break', { version: '1\n2' }, "'version' must not contain control"],
      [
        'processes not an object',
        { processes: ['web'] },
        "'processes' must be an object; got an array",
      ],
      ['an empty processes', { processes: {} }, "'processes' must declare at least one process"],
      [
        'a command that is not a string',
        { processes: { web: 1 } },
        "the command of process 'web' must be a string",
      ],
      [
        'an env name that is not a variable name',
        { env: { '1X': {} } },
        "env variable '1X' is not a valid name",
      ],
      [
        'an env spec that is not an object',
        { env: { X: 'v' } },
        "'env.X' must be an object; got a string",
      ],
      [
        'an env required that is not a boolean',
        { env: { X: { required: 'yes' } } },
        "'env.X.required' must be true or false",
      ],
      [
        'an env value over 32 KiB',
        { env: { X: { value: 'v'.repeat(32 * 1024 + 1) } } },
        'at most 32768 (32 KiB)',
      ],
      [
        'a healthcheck without path',
        { healthcheck: { attempts: 3 } },
        "'healthcheck.path' is required",
      ],
      [
        'a healthcheck path without a leading /',
        { healthcheck: { path: 'health' } },
        "'healthcheck.path' must start with '/'",
      ],
      [
        'a healthcheck timeout of 0',
        { healthcheck: { path: '/', timeoutSeconds: 0 } },
        "'healthcheck.timeoutSeconds' must be an integer from 1 to 300; got 0",
      ],
      [
        'a healthcheck timeout of 301',
        { healthcheck: { path: '/', timeoutSeconds: 301 } },
        'from 1 to 300; got 301',
      ],
      ['a fractional timeout', { healthcheck: { path: '/', timeoutSeconds: 1.5 } }, 'got 1.5'],
      [
        '101 attempts',
        { healthcheck: { path: '/', attempts: 101 } },
        "'healthcheck.attempts' must be an integer from 1 to 100",
      ],
      [
        'an unknown add-on',
        { addons: ['mysql'] },
        `'addons' may list only "postgres" and "redis"; got 'mysql'`,
      ],
      ['an add-on twice', { addons: ['redis', 'redis'] }, `'addons' lists "redis" twice`],
      [
        'one alias twice',
        { addons: ['postgres', { kind: 'postgres', as: 'DATABASE' }] },
        `'addons' lists "postgres" twice as DATABASE_URL`,
      ],
      [
        'an alias in lower case',
        { addons: [{ kind: 'redis', as: 'cache' }] },
        "'addons[0].as' must be an environment variable name in capitals",
      ],
      [
        'a BERTH_ alias',
        { addons: [{ kind: 'redis', as: 'BERTH_CACHE' }] },
        "'addons[0].as' must be an environment variable name in capitals",
      ],
      [
        'an add-on object without a kind',
        { addons: [{ as: 'CACHE' }] },
        `'addons' may list only "postgres" and "redis"; got no kind`,
      ],
      ['addons not an array', { addons: 'redis' }, "'addons' must be an array"],
      [
        'a formation count over 100',
        { formation: { web: 101 } },
        "'formation.web' must be an integer from 0 to 100; got 101",
      ],
      ['a negative formation count', { formation: { web: -1 } }, 'got -1'],
      ['a formation count that is a string', { formation: { web: '2' } }, 'got a string'],
    ];
    for (const [what, value, message] of cases) {
      it(what, async () => {
        await assertRefused(berth(value), BundleErrorReasons.BERTH_JSON_SCHEMA, message);
      });
    }
  });

  it('keeps "__proto__" as a plain key', async () => {
    const p = await read({
      'berth.json': '{"env":{"__proto__":{"value":"x"}},"processes":{"__proto__":"x"}}',
    });
    assert.deepEqual(Object.keys(p.env), ['__proto__']);
    assert.equal(Object.getPrototypeOf(p.env), Object.prototype);
    assert.ok(typeof p.processErrors['__proto__'] === 'string');
  });
});

describe('readProject: Procfile', () => {
  it('reads type: command lines, skipping comments and blank lines, with CRLF', async () => {
    const p = await read({
      Procfile:
        '# processes\r\n\r\nweb: node server.js --port $PORT\r\n  worker:bin/work  \r\n# end',
    });
    assert.deepEqual(p.processes, {
      web: shellCommand('node server.js --port $PORT'),
      worker: shellCommand('bin/work'),
    });
    assert.deepEqual(p.formation, { web: 1, worker: 0 });
    assert.deepEqual(p.processErrors, { web: null, worker: null });
  });

  it('keeps colons after the first in the command', async () => {
    const p = await read({ Procfile: 'web: env A=b:c ./run --listen=0.0.0.0:$PORT\n' });
    assert.deepEqual(p.processes['web'], shellCommand('env A=b:c ./run --listen=0.0.0.0:$PORT'));
  });

  it('refuses a line without a colon, naming the line number', async () => {
    await assertRefused(
      { Procfile: '# hi\nweb: ok\nnode worker.js\n' },
      BundleErrorReasons.PROCFILE_INVALID,
      "Procfile line 3 is not 'type: command' (it has no ':'): 'node worker.js'",
    );
  });

  it('refuses a line without a type, and a type declared twice', async () => {
    await assertRefused(
      { Procfile: ': ./run\n' },
      BundleErrorReasons.PROCFILE_INVALID,
      "Procfile line 1 has no process type before ':'",
    );
    await assertRefused(
      { Procfile: 'web: a\n\nweb: b\n' },
      BundleErrorReasons.PROCFILE_INVALID,
      "Procfile line 3 declares process 'web' again (first on line 1)",
    );
  });

  it('refuses a Procfile with no process', async () => {
    await assertRefused(
      { Procfile: '' },
      BundleErrorReasons.PROCFILE_EMPTY,
      'Procfile defines no process',
    );
    await assertRefused(
      { Procfile: '# nothing here\n\n   \n' },
      BundleErrorReasons.PROCFILE_EMPTY,
      'Procfile defines no process',
    );
  });

  it('refuses a Procfile over 64 KiB', async () => {
    await assertRefused(
      { Procfile: `web: x\n${'#'.repeat(64 * 1024)}` },
      BundleErrorReasons.PROCFILE_INVALID,
      'Procfile is larger than 64 KiB',
    );
  });
});

describe('readProject: process errors, per process', () => {
  it('names a bad type, leaving the others fine', async () => {
    const p = await read({ Procfile: 'web: a\nWeb_2: b\nworker-1: c\n' });
    assert.equal(p.processErrors['web'], null);
    assert.equal(p.processErrors['worker-1'], null);
    assert.match(
      p.processErrors['Web_2'] ?? '',
      /^process type 'Web_2' is not allowed: a type starts with a lowercase letter/,
    );
    assert.deepEqual(Object.keys(p.processes), ['web', 'Web_2', 'worker-1']);
  });

  it('accepts type names of 30 characters and refuses 31', async () => {
    const ok = `a${'b'.repeat(29)}`;
    const long = `a${'b'.repeat(30)}`;
    const p = await read(berth({ processes: { [ok]: 'x', [long]: 'y', '9lives': 'z' } }));
    assert.equal(p.processErrors[ok], null);
    assert.match(p.processErrors[long] ?? '', /is not allowed/);
    assert.match(p.processErrors['9lives'] ?? '', /is not allowed/);
  });

  it('names an empty command and one longer than 4096 characters', async () => {
    const p = await read(
      berth({
        processes: { web: '   ', worker: 'x'.repeat(4097), clock: 'y'.repeat(4096), multi: 'a\nb' },
      }),
    );
    assert.deepEqual(p.processErrors, {
      web: "process 'web' has an empty command",
      worker: "the command of process 'worker' has 4097 characters; at most 4096 are allowed",
      clock: null,
      multi: "the command of process 'multi' contains a line break or control character",
    });
    const fromProcfile = await read({ Procfile: 'web:\nworker: ok\n' });
    assert.equal(fromProcfile.processErrors['web'], "process 'web' has an empty command");
  });

  it('names a formation entry for a process nobody declared', async () => {
    const p = await read(berth({ processes: { web: 'x' }, formation: { web: 2, worker: 1 } }));
    assert.deepEqual(p.processErrors, {
      web: null,
      worker: "the formation scales process 'worker', but no process 'worker' is declared",
    });
    assert.deepEqual(p.formation, { web: 2 });
  });

  it('applies the formation to stack defaults too', async () => {
    const p = await read({ ...berth({ formation: { web: 4 } }), 'index.html': '' });
    assert.deepEqual(p.formation, { web: 4 });
  });
});

describe('locateJsonSyntaxError', () => {
  it('finds nothing wrong in valid JSON', () => {
    for (const text of [
      '{}',
      ' [1, -2.5e+3, "a\\u00e9\\n", true, false, null, {"a": []}] ',
      '"x"',
    ]) {
      assert.equal(locateJsonSyntaxError(text), undefined, text);
    }
  });

  it('agrees with V8 on the position wherever V8 reports one', () => {
    const texts = [
      '{"a":1,}',
      '{"a":1',
      '{"a" 1}',
      '[1,2]x',
      '[1 2]',
      '{"a": tru}',
      '{"a": "b\nc"}',
      '{"a": 01}',
      '{"a": "\\x"}',
      '[1,,2]',
      '{"a": -}',
      '[1.]',
      '[1e]',
      '[1e+x]',
      '-',
      '  ',
    ];
    for (const text of texts) {
      let v8: number | undefined;
      try {
        JSON.parse(text);
        assert.fail(`${text} parsed`);
      } catch (error) {
        const match = /at position (\d+)/.exec((error as Error).message);
        v8 = match ? Number(match[1]) : undefined;
      }
      const ours = locateJsonSyntaxError(text);
      assert.ok(ours, `no error found in ${JSON.stringify(text)}`);
      if (v8 !== undefined)
        assert.equal(ours.position, v8, `${JSON.stringify(text)}: ${ours.problem}`);
    }
  });

  it('counts lines and columns from 1', () => {
    assert.deepEqual(locateJsonSyntaxError('{\n  "a": 1\n  "b": 2\n}'), {
      position: 13,
      line: 3,
      column: 3,
      problem: "expected ',' or '}' after a property value, found '\"'",
    });
  });
});
