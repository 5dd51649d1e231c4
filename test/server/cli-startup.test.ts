import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '../support/databases.js';
import { BERTH_BIN, startServerProcess } from '../support/server-process.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** A module hook that appends every file module's URL to $BERTH_TEST_IMPORTS, as it resolves. */
const RECORDER = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.startsWith('file:')) appendFileSync(process.env.BERTH_TEST_IMPORTS, result.url + '\\n');
  return result;
}`;
const REGISTER = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(RECORDER)}`)});`;

/** Runs `berth ARGS` and returns its exit code, output and the files of src/ it loaded. */
async function runRecorded(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-imports-'));
  const record = path.join(dir, 'imports');
  try {
    const child = spawn(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, BERTH_BIN, ...args],
      { env: { ...process.env, BERTH_TEST_IMPORTS: record } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const urls = (await readFile(record, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const loaded = [
      ...new Set(
        urls
          .map((url) => fileURLToPath(url.replace(/\?.*$/, '')))
          .filter((file) => file.startsWith(SRC))
          .map((file) => path.relative(SRC, file)),
      ),
    ].sort();
    return { code, stdout, stderr, loaded };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('berth start-up', () => {
  const cases: Array<{ args: string[]; code: number; out: RegExp }> = [
    { args: ['help'], code: 0, out: /^Usage: berth <command>/ },
    { args: ['version'], code: 0, out: /^\d+\.\d+\.\d+\n$/ },
    { args: ['nope'], code: 2, out: /^$/ },
    { args: ['down', '--help'], code: 0, out: /^Usage: berth down \[options\]/ },
    { args: ['server', '--help'], code: 0, out: /^Usage: berth server \[options\]/ },
    { args: ['router', '-h'], code: 0, out: /^Usage: berth router \[options\]/ },
    { args: ['stacks', '--help'], code: 0, out: /^Usage: berth stacks build/ },
  ];
  for (const { args, code, out } of cases) {
    it(`berth ${args.join(' ')} answers without loading the server or the client`, async () => {
      const result = await runRecorded(args);
      assert.equal(result.code, code, result.stderr);
      assert.match(result.stdout, out);
      assert.deepEqual(result.loaded, [
        'cli/dispatch.ts',
        'cli/index.ts',
        'cli/suggest.ts',
        'cli/usage.ts',
      ]);
    });
  }

  it('berth deplyo suggests deploy', async () => {
    const result = await runRecorded(['deplyo']);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /unknown command 'deplyo' \(did you mean deploy\?\); run 'berth help'/,
    );
  });

  it("berth down --help names down's flags", async () => {
    const result = await runRecorded(['down', '--help']);
    assert.match(result.stdout, /--data-dir DIR/);
    assert.match(result.stdout, /--engine-socket PATH/);
  });

  it('logs "started the router" once when it starts the router', async () => {
    const location = await createTestDatabase('sqlite');
    try {
      const server = await startServerProcess(['--data-dir', location.dataDir]);
      assert.equal(await server.stop(), 0);
      const started = server.logs.filter((l) => l['msg'] === 'started the router');
      assert.equal(started.length, 1, JSON.stringify(started));
    } finally {
      await location.drop();
    }
  });
});
