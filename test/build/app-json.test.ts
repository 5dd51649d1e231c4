// Heroku's app.json as readProject reads it: the fields Berth applies, checked with the JSON
// path of a wrong type; the rest ignored with warning lines; berth.json winning field by
// field; and hostile files (deep, large, wide) refused precisely and fast.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BundleError,
  BundleErrorReasons,
  readProject,
  type BundleErrorReason,
  type Project,
} from '../../src/build/index.js';
import { scratch } from './support/archives.js';

let root: string;
let cleanup: () => Promise<void>;
let counter = 0;

before(async () => {
  ({ dir: root, cleanup } = await scratch('berth-app-json-'));
});
after(() => cleanup());

const PROCFILE = 'web: node server.js\nworker: node worker.js\n';

async function read(files: Record<string, string>): Promise<Project> {
  const dir = join(root, `p${++counter}`);
  await mkdir(dir);
  for (const [name, contents] of Object.entries(files)) await writeFile(join(dir, name), contents);
  return readProject(dir);
}

const appJson = (value: unknown, extra: Record<string, string> = {}) =>
  read({ Procfile: PROCFILE, 'app.json': JSON.stringify(value), ...extra });

async function assertRefused(
  text: string,
  reason: BundleErrorReason,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(read({ Procfile: PROCFILE, 'app.json': text }), (error) => {
    assert.ok(error instanceof BundleError, `expected a BundleError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('app.json: the fields Berth applies', () => {
  it('reads metadata, env, formation and add-ons', async () => {
    const p = await appJson({
      name: 'Shop',
      description: 'A shop.',
      keywords: ['node', 'shop'],
      repository: 'https://github.com/example/shop',
      env: {
        GREETING: 'hello',
        SECRET_KEY: { description: 'signs cookies', generator: 'secret' },
        API_TOKEN: { description: 'the upstream token' },
        LOG_LEVEL: { value: 'info', required: false },
      },
      formation: {
        web: { quantity: 2, size: 'Standard-2X' },
        worker: { quantity: 1 },
      },
      addons: ['heroku-postgresql:essential-0', { plan: 'heroku-redis', as: 'CACHE' }],
    });
    assert.deepEqual(p.metadata, {
      name: 'Shop',
      description: 'A shop.',
      keywords: ['node', 'shop'],
      repository: 'https://github.com/example/shop',
    });
    assert.deepEqual(p.env, {
      GREETING: { default: 'hello', required: true },
      SECRET_KEY: {
        description: 'signs cookies',
        required: true,
        generator: 'secret',
      },
      API_TOKEN: { description: 'the upstream token', required: true },
      LOG_LEVEL: { default: 'info', required: false },
    });
    assert.deepEqual(p.formation, { web: 2, worker: 1 });
    assert.deepEqual(p.sizes, { web: 1024 ** 3 });
    assert.deepEqual(p.addons, [
      { kind: 'postgres', as: 'DATABASE' },
      { kind: 'redis', as: 'CACHE' },
    ]);
    assert.deepEqual(p.warnings, []);
  });

  it('maps each Heroku and Dokku add-on name, and ignores others with a warning', async () => {
    for (const [plan, kind] of [
      ['heroku-postgresql', 'postgres'],
      ['heroku-postgresql:standard-0', 'postgres'],
      ['dokku-postgres', 'postgres'],
      ['postgres', 'postgres'],
      ['heroku-redis', 'redis'],
      ['heroku-redis:mini', 'redis'],
      ['dokku-redis', 'redis'],
      ['redis', 'redis'],
    ] as const) {
      const p = await appJson({ addons: [plan] });
      assert.deepEqual(p.addons, [{ kind, as: kind === 'postgres' ? 'DATABASE' : 'REDIS' }]);
    }
    const p = await appJson({
      addons: ['papertrail', { plan: 'redis', options: { v: 7 } }],
    });
    assert.deepEqual(p.addons, [{ kind: 'redis', as: 'REDIS' }]);
    assert.deepEqual(p.warnings, [
      "app.json: add-on 'papertrail' (addons[0]) is not one Berth makes; ignored (Berth makes postgres and redis)",
      "app.json: addons[1].options ignored: Berth's add-ons take no provisioning options",
    ]);
  });

  it('maps web quantity 0, and drops entries of undeclared types that ask for no units', async () => {
    const p = await read({
      Procfile: 'worker: node worker.js\n',
      'app.json': JSON.stringify({
        formation: { web: { quantity: 0 }, worker: { quantity: 1 } },
      }),
    });
    assert.deepEqual(p.formation, { worker: 1 });
    assert.deepEqual(p.processErrors, { worker: null });
    const asked = await read({
      Procfile: 'worker: node worker.js\n',
      'app.json': JSON.stringify({ formation: { clock: { quantity: 1 } } }),
    });
    assert.equal(
      asked.processErrors['clock'],
      "the formation scales process 'clock', but no process 'clock' is declared",
    );
  });

  it('warns about what it does not apply, naming healthchecks as later', async () => {
    const p = await appJson({
      scripts: {
        dokku: { predeploy: 'make migrate' },
        postdeploy: 'make seed',
      },
      healthchecks: { web: [{ type: 'startup', path: '/' }] },
      cron: [{ command: 'make report', schedule: '@daily' }],
      buildpacks: [{ url: 'heroku/nodejs' }],
      logo: 'https://example.com/logo.png',
      success_url: '/welcome',
      colour: 'blue',
      env: { A: { value: 'x', order: 1 } },
      formation: { web: { quantity: 1, autoscale: true } },
      addons: [{ plan: 'redis', shared: true }],
    });
    assert.deepEqual(p.warnings, [
      'app.json: healthchecks is not applied yet: this deploy runs without it',
      'app.json: ignored: logo (a Heroku Button field), success_url (a Heroku Button field), buildpacks (Berth detects the stack itself)',
      "app.json: unknown fields 'colour', 'env.A.order', 'formation.web.autoscale', 'addons[0].shared' ignored",
    ]);
    assert.deepEqual(p.env, { A: { default: 'x', required: true } });
  });

  it('takes empty strings as saying nothing', async () => {
    const p = await appJson({
      name: '',
      description: '',
      repository: '',
      keywords: [''],
    });
    assert.deepEqual(p.metadata, {});
  });
});

describe('app.json: refused with the JSON path', () => {
  const schema = BundleErrorReasons.APP_JSON_SCHEMA;
  for (const [value, message] of [
    [
      { env: { SECRET_KEY: { required: 'yes' } } },
      'app.json: env.SECRET_KEY.required must be a boolean; got a string',
    ],
    [{ env: { A: { value: 5 } } }, 'app.json: env.A.value must be a string; got a number'],
    [{ env: { A: 5 } }, 'app.json: env.A must be an object; got a number'],
    [{ env: [] }, 'app.json: env must be an object; got an array'],
    [
      { env: { A: { generator: 'uuid' } } },
      `app.json: env.A.generator must be "secret" (a random value made once); got 'uuid'`,
    ],
    [
      { env: { 'A B': 'x' } },
      `app.json: env["A B"] is not a valid variable name: a name starts with a letter or '_', holds only letters, digits and '_', and has at most 256 characters`,
    ],
    [{ name: 7 }, 'app.json: name must be a string; got a number'],
    [{ keywords: 'a,b' }, 'app.json: keywords must be an array of strings; got a string'],
    [{ keywords: ['a', null] }, 'app.json: keywords[1] must be a string; got null'],
    [{ repository: {} }, 'app.json: repository must be a string; got an object'],
    [{ formation: { web: 2 } }, 'app.json: formation.web must be an object; got a number'],
    [
      { formation: { web: { quantity: -1 } } },
      'app.json: formation.web.quantity must be an integer from 0 to 100; got -1',
    ],
    [
      { formation: { web: { quantity: '2' } } },
      'app.json: formation.web.quantity must be an integer from 0 to 100; got a string',
    ],
    [
      { formation: { web: { size: 'huge' } } },
      /^app\.json: formation\.web\.size 'huge' is not a size Berth knows; it knows eco, free, hobby, basic, standard-1x, .*performance-m, performance-l,/,
    ],
    [{ addons: 'heroku-redis' }, 'app.json: addons must be an array; got a string'],
    [
      { addons: [3] },
      'app.json: addons[0] must be an add-on name or {"plan": …, "as": …}; got a number',
    ],
    [{ addons: [{ as: 'DB' }] }, 'app.json: addons[0].plan is required'],
    [{ addons: [{ plan: true }] }, 'app.json: addons[0].plan must be a string; got a boolean'],
    [
      { addons: [{ plan: 'redis', as: 'cache' }] },
      "app.json: addons[0].as must be an environment variable name in capitals (the app gets <as>_URL), not BERTH_*; got 'cache'",
    ],
    [
      { addons: ['heroku-postgresql', 'dokku-postgres'] },
      'app.json: addons lists a postgres add-on twice as DATABASE_URL: give each add-on of a kind an alias of its own ("as")',
    ],
    [[], 'app.json: the file must hold a JSON object; it holds an array'],
  ] as const) {
    it(typeof message === 'string' ? message : String(message), async () => {
      await assertRefused(JSON.stringify(value), schema, message);
    });
  }

  it('refuses keys Berth owns, and a runtime key with a value', async () => {
    const refused = BundleErrorReasons.APP_JSON_ENV_REFUSED;
    await assertRefused(
      '{"env":{"PORT":"80"}}',
      refused,
      /^app\.json: env variable 'PORT' is refused/,
    );
    await assertRefused('{"env":{"BERTH_APP":{}}}', refused, /'BERTH_APP' is refused/);
    await assertRefused(
      '{"env":{"NODE_OPTIONS":"--inspect"}}',
      refused,
      /'NODE_OPTIONS' is refused: .* change how every process of the app starts/,
    );
    // Declared without a value it sets nothing, so the app's owner may still set it.
    const p = await appJson({ env: { NODE_OPTIONS: { required: false } } });
    assert.deepEqual(p.env, { NODE_OPTIONS: { required: false } });
  });

  it('names the position of a syntax error', async () => {
    await assertRefused(
      '{\n  "env": {\n    "A": "x",\n  }\n}',
      BundleErrorReasons.APP_JSON_INVALID,
      "app.json is not valid JSON: expected a property name in double quotes, found '}' at line 4, column 3 (position 29)",
    );
  });
});

describe('app.json: hostile files', () => {
  it('refuses nesting deeper than 32 levels, where it starts, in any field', async () => {
    const started = performance.now();
    const depth = 50_000;
    await assertRefused(
      `{"environments":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      BundleErrorReasons.APP_JSON_SCHEMA,
      'app.json: nesting deeper than 32 levels at line 1, column 48 (position 47)',
    );
    // Unbalanced and deep is a syntax error, found without recursing 50,000 times.
    await assertRefused(
      `{"x":${'['.repeat(depth)}`,
      BundleErrorReasons.APP_JSON_INVALID,
      /^app\.json is not valid JSON: nesting deeper than 1000 levels at line 1, column 1006/,
    );
    assert.ok(performance.now() - started < 2000, 'refused at once');
  });

  it('refuses 10 MB without reading it whole', async () => {
    const big = JSON.stringify({
      description: randomBytes(5 * 1024 * 1024).toString('hex'),
    });
    assert.ok(big.length > 10 * 1024 * 1024);
    await assertRefused(
      big,
      BundleErrorReasons.APP_JSON_TOO_LARGE,
      'app.json is larger than 128 KiB, the most it may hold',
    );
  });

  it('refuses thousands of env keys, and folds thousands of unknown fields into one line', async () => {
    const many = (prefix: string, n: number, value: unknown) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, value]));
    await assertRefused(
      JSON.stringify({ env: many('K', 5000, 'v') }),
      BundleErrorReasons.APP_JSON_SCHEMA,
      'app.json: env may declare at most 500 variables; it declares 5000',
    );
    await assertRefused(
      JSON.stringify({ formation: many('t', 1000, {}) }),
      BundleErrorReasons.APP_JSON_SCHEMA,
      'app.json: formation may name at most 50 process types; it names 1000',
    );
    await assertRefused(
      JSON.stringify({ addons: Array.from({ length: 1000 }, () => 'redis') }),
      BundleErrorReasons.APP_JSON_SCHEMA,
      'app.json: addons may list at most 20; it lists 1000',
    );
    const started = performance.now();
    const p = await appJson(many('field', 8000, 1));
    assert.ok(performance.now() - started < 2000);
    assert.equal(p.warnings.length, 1);
    assert.match(
      p.warnings[0] ?? '',
      /^app\.json: unknown fields 'field0', 'field1', .*'field9' and 7990 more ignored$/,
    );
  });

  it('keeps "__proto__" a plain key', async () => {
    const p = await read({
      Procfile: PROCFILE,
      'app.json': '{"env":{"__proto__":"x"},"formation":{"__proto__":{"quantity":0}}}',
    });
    assert.deepEqual(Object.keys(p.env), ['__proto__']);
    assert.equal(Object.getPrototypeOf(p.env), Object.prototype);
  });
});

describe('app.json with berth.json', () => {
  it('berth.json wins field by field; what only one says is taken from it', async () => {
    const p = await read({
      Procfile: PROCFILE,
      'app.json': JSON.stringify({
        name: 'from app.json',
        description: 'described by app.json',
        keywords: ['heroku'],
        env: {
          GREETING: { description: 'what to say', value: 'hello' },
          SECRET_KEY: { generator: 'secret' },
          TOKEN: { description: 'a token', required: true },
        },
        formation: {
          web: { quantity: 3, size: 'performance-m' },
          worker: { quantity: 2 },
        },
        addons: ['heroku-postgresql', 'heroku-redis'],
      }),
      'berth.json': JSON.stringify({
        name: 'from berth.json',
        version: '2.0.0',
        env: {
          GREETING: { value: 'hi' },
          TOKEN: { required: false },
          OTHER: { description: 'berth.json only' },
        },
        formation: { web: 1 },
        addons: [
          { kind: 'postgres', as: 'DATABASE' },
          { kind: 'redis', as: 'CACHE' },
        ],
      }),
    });
    assert.deepEqual(p.metadata, {
      name: 'from berth.json',
      description: 'described by app.json',
      keywords: ['heroku'],
      version: '2.0.0',
    });
    assert.deepEqual(p.env, {
      GREETING: { description: 'what to say', value: 'hi', required: true },
      SECRET_KEY: { required: true, generator: 'secret' },
      TOKEN: { description: 'a token', required: false },
      OTHER: { description: 'berth.json only', required: false },
    });
    assert.deepEqual(p.formation, { web: 1, worker: 2 });
    assert.deepEqual(p.sizes, { web: 2560 * 1024 ** 2 });
    assert.deepEqual(p.addons, [
      { kind: 'postgres', as: 'DATABASE' },
      { kind: 'redis', as: 'CACHE' },
      { kind: 'redis', as: 'REDIS' },
    ]);
  });
});
