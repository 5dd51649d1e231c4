import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, InputError } from '../../src/errors/index.js';
import {
  DEFAULT_RESTART_POLICY,
  ProcessDriver,
  RuntimeDriver,
  shellLine,
  type UnitSpec,
  type UnitStatus,
} from '../../src/runtime/index.js';
import { driverContract, eventually, waitUntilListening } from './contract.js';
import { processFixture } from './support/fixture.js';
import { getJson, type WebEcho } from './support/http.js';

driverContract('process', () => processFixture({ portRange: { from: 21_000, to: 21_999 } }));

/** The parts of a unit record the tests look at (the driver's own type is internal). */
interface RecordView {
  readonly supervisor: { readonly pid: number };
  readonly child: { readonly pid: number; readonly pgid: number } | null;
}

/** Whether a process runs; a zombie does not (orphans go to an init that may not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('process runtime', () => {
  let fixture: Awaited<ReturnType<typeof processFixture>>;
  let driver: RuntimeDriver;
  const drivers: RuntimeDriver[] = [];
  /** Pids to kill whatever happens, for processes a failed test may leave behind. */
  const strays = new Set<number>();
  let counter = 0;

  const newDriver = async (
    options: { root?: string; ports?: [number, number]; limit?: number } = {},
  ) => {
    const made = new RuntimeDriver(
      new ProcessDriver({
        root: options.root ?? fixture.root,
        portRange: options.ports
          ? { from: options.ports[0], to: options.ports[1] }
          : { from: 22_000, to: 22_999 },
        ...(options.limit ? { logFileLimitBytes: options.limit } : {}),
      }),
    );
    await made.init();
    drivers.push(made);
    return made;
  };

  const newApp = () => `proc-${process.pid}-${++counter}`;

  const spec = (app: string, argv: string[], extra: Partial<UnitSpec> = {}): UnitSpec => ({
    id: `${app}-web-1`,
    app,
    release: 1,
    processType: 'web',
    index: 1,
    command: { kind: 'exec', argv: [process.execPath, ...argv] },
    artifact: fixture.artifact,
    env: {},
    restart: { ...DEFAULT_RESTART_POLICY, backoffMs: 50 },
    ...extra,
  });

  const record = async (root: string, unitId: string): Promise<RecordView> =>
    JSON.parse(await readFile(path.join(root, 'units', `${unitId}.json`), 'utf8')) as RecordView;

  const stateOf = async (app: string): Promise<UnitStatus | undefined> =>
    (await driver.list({ app }))[0];

  before(async () => {
    fixture = await processFixture();
    driver = await newDriver();
  });

  after(async () => {
    try {
      for (const made of drivers) {
        const units = await made.list().catch(() => []);
        await Promise.all(units.map((unit) => made.stop(unit.id, { graceMs: 0 })));
      }
    } finally {
      for (const pid of strays) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await Promise.allSettled(drivers.map((made) => made.destroy()));
      await fixture.cleanup();
    }
  });

  it('keeps units running when the controller that started them is killed', async () => {
    const app = newApp();
    const owner = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(import.meta.dirname, 'support', 'start-units-process.ts'),
        fixture.root,
        fixture.artifact.kind === 'directory' ? fixture.artifact.path : '',
        app,
        '2',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const started = await new Promise<UnitStatus[]>((resolve, reject) => {
      owner.once('exit', (code) => reject(new Error(`the owner exited with ${code}`)));
      readline
        .createInterface({ input: owner.stdout })
        .once('line', (line) => resolve(JSON.parse(line) as UnitStatus[]));
    });
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    const units = await driver.list({ app });
    assert.deepEqual(
      units.map((unit) => [unit.id, unit.state, unit.address.port]),
      started.map((unit) => [unit.id, 'running', unit.address.port]),
    );
    for (const unit of units) {
      await waitUntilListening(unit);
      assert.equal((await getJson<WebEcho>(unit.address, '/env')).env['BERTH_APP'], app);
      await driver.stop(unit.id, { graceMs: 1000 });
    }
    assert.deepEqual(await driver.list({ app }), []);
  });

  it('restarts a unit whose process is killed, on the same port', async () => {
    const app = newApp();
    const unit = await driver.start(spec(app, ['web.mjs']));
    await waitUntilListening(unit);
    const first = await getJson<WebEcho>(unit.address, '/env');
    process.kill(first.pid, 'SIGKILL');
    const restarted = await eventually('the restart', async () => {
      const now = await stateOf(app);
      return now?.restarts === 1 && now.state === 'running' ? now : undefined;
    });
    assert.equal(restarted.lastExit?.signal, 'SIGKILL');
    assert.deepEqual(restarted.address, unit.address);
    await waitUntilListening(restarted);
    const second = await getJson<WebEcho>(unit.address, '/env');
    assert.notEqual(second.pid, first.pid);
    const system = (await driver.readLogs({ app }))
      .filter((line) => line.stream === 'system')
      .map((line) => line.text);
    assert.ok(system.includes('exited (signal SIGKILL)'), system.join('\n'));
    assert.ok(system.includes('restarting in 50 ms'), system.join('\n'));
    await driver.stop(unit.id, { graceMs: 1000 });
  });

  it('hands a unit to a spare supervisor, keeps another waiting, and ends it on destroy', async () => {
    /** Supervisors this process started as spares (waiting for a plan, or since given one). */
    const waitingSpares = (): number[] =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .map(Number)
        .filter((pid) => {
          try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            return (
              ppid === process.pid &&
              readFileSync(`/proc/${pid}/environ`, 'utf8').includes('BERTH_SUPERVISOR_SPARE=1')
            );
          } catch {
            return false;
          }
        });
    const root = path.join(fixture.root, 'spares');
    const made = new RuntimeDriver(
      new ProcessDriver({ root, portRange: { from: 22_500, to: 22_599 }, spareSupervisor: true }),
    );
    await made.init();
    const before = await eventually('a spare supervisor', () => {
      const spares = waitingSpares();
      return Promise.resolve(spares.length === 1 ? spares : undefined);
    });
    const app = newApp();
    const unit = await made.start(spec(app, ['web.mjs']));
    try {
      await waitUntilListening(unit);
      assert.equal((await record(root, unit.id)).supervisor.pid, before[0], 'the spare took it');
      const echo = await getJson<WebEcho>(unit.address, '/env');
      assert.equal(echo.env['BERTH_SUPERVISOR_SPARE'], undefined, 'the unit never sees it');
      // /proc/<pid>/environ keeps a process's first environment: the spare that took the unit
      // is still listed, beside the new one.
      const next = await eventually('another spare', () =>
        Promise.resolve(waitingSpares().find((pid) => pid !== before[0])),
      );
      await made.destroy();
      await eventually('the waiting spare exits', () => Promise.resolve(!alive(next) || undefined));
      const after = await newDriver({ root });
      assert.equal((await after.list({ app }))[0]?.state, 'running', 'the unit outlives it');
      await after.stop(unit.id, { graceMs: 1000 });
    } finally {
      await made.destroy().catch(() => undefined);
    }
  });

  it('reports a unit whose supervisor died as lost, and stop() ends its orphans', async () => {
    const app = newApp();
    const unit = await driver.start(spec(app, ['web.mjs']));
    await waitUntilListening(unit);
    const { supervisor, child } = await record(fixture.root, unit.id);
    assert.ok(child);
    strays.add(child.pgid);
    process.kill(supervisor.pid, 'SIGKILL');
    await eventually('the unit to be lost', async () =>
      (await stateOf(app))?.state === 'lost' ? true : undefined,
    );
    assert.ok(alive(child.pid), 'the unit itself still runs');
    await driver.stop(unit.id, { graceMs: 1000 });
    assert.equal(alive(child.pid), false);
    assert.deepEqual(await driver.list({ app }), []);
  });

  it('ends the whole process group on stop, a grandchild that ignores SIGTERM too', async () => {
    const app = newApp();
    const unit = await driver.start(spec(app, ['spawner.mjs']));
    const grandchild = await eventually('the grandchild', async () => {
      const line = (await driver.readLogs({ app })).find((l) => l.text.startsWith('grandchild '));
      return line ? Number(line.text.split(' ')[1]) : undefined;
    });
    strays.add(grandchild);
    assert.ok(alive(grandchild));
    await driver.stop(unit.id, { graceMs: 300 });
    assert.equal(alive(grandchild), false);
  });

  it('runs a Procfile line under /bin/sh, and keeps the logs of a stopped unit', async () => {
    const app = newApp();
    const unit = await driver.start(
      spec(app, [], {
        command: { kind: 'shell', line: 'echo "shell says $BERTH_PROCESS" && exec sleep 30' },
      }),
    );
    await eventually(
      'the line',
      async () =>
        (await driver.readLogs({ app })).some((line) => line.text === 'shell says web') ||
        undefined,
    );
    await driver.stop(unit.id, { graceMs: 1000 });
    const texts = (await driver.readLogs({ app })).map((line) => `${line.stream} ${line.text}`);
    assert.ok(texts.includes('stdout shell says web'));
    assert.ok(
      texts.some((text) => /^system started \(pid \d+\)$/.test(text)),
      texts.join('\n'),
    );
    assert.ok(texts.includes('system stopping'));
    assert.ok(texts.includes('system stopped'));
  });

  it('runs a simple Procfile line as the unit’s own process, a compound one under sh', async () => {
    const cmdlineOf = async (unitId: string): Promise<string[]> => {
      const child = await eventually(
        'the child',
        async () => (await record(fixture.root, unitId)).child ?? undefined,
      );
      return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    };
    const simple = newApp();
    const unit = await driver.start(
      spec(simple, [], { command: { kind: 'shell', line: `${process.execPath} quiet.mjs` } }),
    );
    assert.deepEqual(await cmdlineOf(unit.id), [process.execPath, 'quiet.mjs'], 'no sh between');
    await driver.stop(unit.id, { graceMs: 1000 });

    const compound = newApp();
    const second = await driver.start(
      spec(compound, [], {
        command: {
          kind: 'shell',
          line: `echo "compound $BERTH_PROCESS" && ${process.execPath} quiet.mjs`,
        },
      }),
    );
    assert.equal((await cmdlineOf(second.id))[0], '/bin/sh', 'a list stays a shell script');
    await eventually(
      'its first command ran',
      async () =>
        (await driver.readLogs({ app: compound })).some((l) => l.text === 'compound web') ||
        undefined,
    );
    assert.equal((await driver.list({ app: compound }))[0]?.state, 'running');
    await driver.stop(second.id, { graceMs: 1000 });
  });

  it('execs only a line that is one simple command', () => {
    assert.equal(shellLine('node server.js --port $PORT'), 'exec node server.js --port $PORT');
    assert.equal(shellLine('  bin/web "a b" # note '), 'exec bin/web "a b" # note');
    for (const line of [
      'npm run migrate && node server.js',
      'node a.js; node b.js',
      'node server.js | tee out',
      'node server.js &',
      'node server.js > out.log 2>&1',
      'node < in',
      'FOO=1 node server.js',
      'cd web',
      'exec node server.js',
      'if true; then node x; fi',
      'node $(cat args)',
      '"quoted prog" x',
      'node a.js\nnode b.js',
    ]) {
      assert.equal(shellLine(line), line, line);
    }
  });

  it('rotates a log file at its limit, keeping one old file, and cuts very long lines', async () => {
    const root = path.join(fixture.dir, 'runtime-rotation');
    const small = await newDriver({ root, limit: 4096 });
    const app = newApp();
    const unit = await small.start(spec(app, ['lines.mjs', '200', '100']));
    const logDir = path.join(root, 'logs', app);
    await eventually(
      'the last line',
      async () =>
        (await small.readLogs({ app, tail: 5 })).some((line) => line.text === 'err 1') || undefined,
    );
    const files = (await readdir(logDir)).sort();
    assert.deepEqual(files, [`${unit.id}.log`, `${unit.id}.log.1`]);
    for (const file of files) assert.ok((await stat(path.join(logDir, file))).size <= 4096);
    const tail = await small.readLogs({ app, tail: 3 });
    assert.deepEqual(
      tail.map((line) => line.text.split(' ').slice(0, 2).join(' ')),
      ['out 199', 'out 200', 'err 1'],
    );
    await small.stop(unit.id, { graceMs: 0 });

    const long = newApp();
    const cut = await driver.start(spec(long, ['lines.mjs', '1', String(40_000)]));
    const line = await eventually('the long line', async () =>
      (await driver.readLogs({ app: long })).find((l) => l.text.startsWith('out 1')),
    );
    assert.equal(line.text.length, 16 * 1024 + 1);
    assert.ok(line.text.endsWith('…'));
    await driver.stop(cut.id, { graceMs: 0 });
  });

  it('writes no config value to disk and gives units none of the controller’s environment', async () => {
    const app = newApp();
    const secret = `s3cret-${process.hrtime.bigint()}`;
    process.env['BERTH_MASTER_KEY_FOR_TEST'] = 'controller-only';
    let unit: UnitStatus;
    try {
      unit = await driver.start(spec(app, ['web.mjs'], { env: { DATABASE_PASSWORD: secret } }));
    } finally {
      delete process.env['BERTH_MASTER_KEY_FOR_TEST'];
    }
    await waitUntilListening(unit);
    const echo = await getJson<WebEcho>(unit.address, '/env');
    assert.equal(echo.env['DATABASE_PASSWORD'], secret);
    assert.equal(echo.env['BERTH_MASTER_KEY_FOR_TEST'], undefined);
    assert.equal(echo.env['BERTH_SUPERVISOR_ENV'], undefined);
    assert.equal(echo.env['BERTH_SUPERVISOR_SPEC'], undefined);
    const found: string[] = [];
    const grep = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await grep(full);
        else if ((await readFile(full, 'utf8').catch(() => '')).includes(secret)) found.push(full);
      }
    };
    await grep(fixture.root);
    assert.deepEqual(found, []);
    await driver.stop(unit.id, { graceMs: 1000 });
  });

  it('gives each unit a port of the range that no unit holds and nothing else listens on', async () => {
    const from = 24_500;
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(from + 1, '127.0.0.1', resolve));
    try {
      const ranged = await newDriver({
        root: path.join(fixture.dir, 'runtime-ports'),
        ports: [from, from + 3],
      });
      const app = newApp();
      const units = [];
      for (let index = 1; index <= 3; index++) {
        units.push(
          await ranged.start(spec(app, ['web.mjs'], { id: `${app}-web-${index}`, index })),
        );
      }
      const ports = units.map((unit) => unit.address.port).sort();
      assert.deepEqual(ports, [from, from + 2, from + 3]);
      await assert.rejects(
        ranged.start(spec(app, ['web.mjs'], { id: `${app}-web-4`, index: 4 })),
        /no free port/,
      );
      await Promise.all(units.map((unit) => ranged.stop(unit.id, { graceMs: 0 })));
    } finally {
      blocker.close();
    }
  });

  it('refuses image artifacts', async () => {
    const app = newApp();
    await assert.rejects(
      driver.start(spec(app, ['web.mjs'], { artifact: { kind: 'image', ref: 'berth/app:1' } })),
      (error: unknown) =>
        error instanceof InputError && error.code === ErrorCodes.UNIT_SPEC_INVALID,
    );
  });
});
