// The runtime driver contract: one suite every driver (process, container, kubernetes) must
// pass, run by each driver's test file with a fixture of its own (Kysely tests every dialect
// with the same tests). Real processes, no mocks.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, InputError } from '../../src/errors/index.js';
import {
  checkHealth,
  RuntimeDriver,
  type Driver,
  type LogLine,
  type RestartPolicy,
  type UnitArtifact,
  type UnitCommand,
  type UnitSpec,
  type UnitStatus,
} from '../../src/runtime/index.js';
import type { ContractScript } from './contract-scripts.js';
import { getJson, type WebEcho } from './support/http.js';
import { eventually, waitUntilListening } from './support/wait.js';

export { CONTRACT_SCRIPTS, type ContractScript } from './contract-scripts.js';
export { eventually, waitUntilListening } from './support/wait.js';

/** What a driver's test file gives the suite. */
export interface ContractFixture {
  /** A new, not yet initialised driver on the runtime under test; called again for adoption. */
  readonly createDriver: () => Driver;
  /** An artifact holding CONTRACT_SCRIPTS: a directory of them, or an image built from them. */
  readonly artifact: UnitArtifact;
  /** The command that runs one of the scripts with Node inside the artifact. */
  readonly command: (script: ContractScript, ...args: string[]) => UnitCommand;
  /** Removes what the fixture made; the suite stops its own units first. */
  readonly cleanup: () => Promise<void>;
}

/** Restarts fast enough for tests. */
const QUICK_RESTARTS: RestartPolicy = Object.freeze({
  maxRestarts: 2,
  backoffMs: 50,
  maxBackoffMs: 200,
  resetAfterMs: 10_000,
});

/** Runs the contract suite against the driver the fixture makes. */
export function driverContract(name: string, setup: () => Promise<ContractFixture>): void {
  describe(`runtime driver contract: ${name}`, () => {
    let fixture: ContractFixture;
    let driver: RuntimeDriver;
    let counter = 0;
    /** Every driver the suite made, so that `after` can stop what each of them started. */
    const drivers: RuntimeDriver[] = [];

    const newDriver = async (): Promise<RuntimeDriver> => {
      const made = new RuntimeDriver(fixture.createDriver());
      await made.init();
      drivers.push(made);
      return made;
    };

    /** A unique app name per test, so that tests do not see each other's units. */
    const newApp = (): string => `contract-${process.pid}-${++counter}`;

    const spec = (
      app: string,
      command: UnitCommand,
      extra: Partial<Omit<UnitSpec, 'app' | 'command'>> = {},
    ): UnitSpec => {
      const index = extra.index ?? 1;
      return {
        id: `${app}-web-${index}`,
        app,
        release: 7,
        processType: 'web',
        index,
        command,
        artifact: fixture.artifact,
        env: { GREETING: 'hello there' },
        restart: QUICK_RESTARTS,
        ...extra,
      };
    };

    const unitOf = async (app: string, id: string): Promise<UnitStatus | undefined> =>
      (await driver.list({ app })).find((unit) => unit.id === id);

    before(async () => {
      fixture = await setup();
      driver = await newDriver();
    });

    after(async () => {
      try {
        const units = await driver.list();
        const ours = units.filter((unit) => unit.app.startsWith(`contract-${process.pid}-`));
        await Promise.all(ours.map((unit) => driver.stop(unit.id, { graceMs: 0 })));
      } finally {
        await Promise.allSettled(drivers.map((made) => made.destroy()));
        await fixture.cleanup();
      }
    });

    it('starts a unit that runs and answers on its address with its environment', async () => {
      const app = newApp();
      const started = await driver.start(spec(app, fixture.command('web.mjs')));
      assert.equal(started.app, app);
      assert.equal(started.release, 7);
      assert.equal(started.processType, 'web');
      assert.equal(started.index, 1);
      assert.match(started.startedAt, /^\d{4}-\d\d-\d\dT.*Z$/);
      assert.ok(['starting', 'running'].includes(started.state));
      await waitUntilListening(started);
      const [unit] = await driver.list({ app });
      assert.equal(unit?.state, 'running');
      const echo = await getJson<WebEcho>(started.address, '/env');
      assert.equal(echo.env['PORT'], String(started.address.port));
      assert.equal(echo.env['BERTH_APP'], app);
      assert.equal(echo.env['BERTH_RELEASE'], '7');
      assert.equal(echo.env['BERTH_PROCESS'], 'web');
      assert.equal(echo.env['BERTH_UNIT'], started.id);
      assert.equal(echo.env['GREETING'], 'hello there');
    });

    it('starts a unit that never prints, and a new driver adopts it as quickly', async () => {
      const app = newApp();
      const began = Date.now();
      const unit = await driver.start(spec(app, fixture.command('quiet.mjs')));
      await waitUntilListening(unit);
      const adopter = await newDriver();
      const [adopted] = await adopter.list({ app });
      assert.equal(adopted?.state, 'running');
      assert.ok(Date.now() - began < 10_000, `took ${Date.now() - began} ms`);
      await adopter.stop(unit.id, { graceMs: 1000 });
    });

    it('stops a unit that handles SIGTERM cleanly, within the grace period', async () => {
      const app = newApp();
      const unit = await driver.start(spec(app, fixture.command('web.mjs')));
      await waitUntilListening(unit);
      const began = Date.now();
      await driver.stop(unit.id, { graceMs: 20_000 });
      assert.ok(
        Date.now() - began < 15_000,
        'a unit that exits on SIGTERM does not wait the grace',
      );
      assert.deepEqual(await driver.list({ app }), []);
      const health = await checkHealth({
        ...unit.address,
        timeoutMs: 300,
        attempts: 1,
        intervalMs: 0,
      });
      assert.equal(health.ok, false);
      const texts = (await driver.readLogs({ app })).map((line) => line.text);
      assert.ok(texts.includes('got SIGTERM, closing'), texts.join('\n'));
    });

    it('kills a unit that ignores SIGTERM once the grace period is over', async () => {
      const app = newApp();
      const unit = await driver.start(spec(app, fixture.command('stubborn.mjs')));
      await eventually('the unit to be ready', async () => {
        const lines = await driver.readLogs({ app });
        return lines.some((line) => line.text === 'stubborn and ready') || undefined;
      });
      const began = Date.now();
      await driver.stop(unit.id, { graceMs: 400 });
      const took = Date.now() - began;
      assert.ok(took >= 350, `stop took ${took} ms, less than the grace`);
      assert.ok(took < 10_000, `stop took ${took} ms`);
      assert.deepEqual(await driver.list({ app }), []);
      const texts = (await driver.readLogs({ app })).map((line) => line.text);
      assert.ok(texts.includes('ignoring SIGTERM'), texts.join('\n'));
    });

    it('stops idempotently: twice, at once, and units it never had', async () => {
      const app = newApp();
      const unit = await driver.start(spec(app, fixture.command('web.mjs')));
      await Promise.all([
        driver.stop(unit.id, { graceMs: 1000 }),
        driver.stop(unit.id, { graceMs: 1000 }),
      ]);
      await driver.stop(unit.id, { graceMs: 1000 });
      await driver.stop(`${app}-never-started`, { graceMs: 1000 });
      assert.deepEqual(await driver.list({ app }), []);
    });

    it('lists units by app, sorted by type and index, each with its own port', async () => {
      const [one, two] = [newApp(), newApp()];
      const command = fixture.command('web.mjs');
      await driver.start(spec(one, command, { index: 2 }));
      await driver.start(spec(one, command, { index: 1 }));
      await driver.start(spec(two, command));
      const ofOne = await driver.list({ app: one });
      assert.deepEqual(
        ofOne.map((unit) => unit.id),
        [`${one}-web-1`, `${one}-web-2`],
      );
      assert.deepEqual(
        (await driver.list({ app: two })).map((unit) => unit.id),
        [`${two}-web-1`],
      );
      const all = await driver.list();
      assert.ok(all.some((unit) => unit.app === one) && all.some((unit) => unit.app === two));
      const ports = new Set(all.map((unit) => unit.address.port));
      assert.equal(ports.size, all.length, 'no two units share a port');
    });

    it('refuses a second unit with the id of a unit it holds, or is starting', async () => {
      const app = newApp();
      const both = await Promise.allSettled([
        driver.start(spec(app, fixture.command('web.mjs'))),
        driver.start(spec(app, fixture.command('web.mjs'))),
      ]);
      assert.deepEqual(both.map((result) => result.status).sort(), ['fulfilled', 'rejected']);
      await assert.rejects(driver.start(spec(app, fixture.command('web.mjs'))), {
        code: ErrorCodes.UNIT_EXISTS,
      });
      assert.equal((await driver.list({ app })).length, 1);
    });

    it('restarts a crashing unit with backoff and leaves it crashed', async () => {
      const app = newApp();
      const began = Date.now();
      const unit = await driver.start(spec(app, fixture.command('crash.mjs')));
      const crashed = await eventually('the unit to crash', async () => {
        const now = await unitOf(app, unit.id);
        return now?.state === 'crashed' ? now : undefined;
      });
      // Backoff: 50 ms, then 100 ms before the two restarts.
      assert.ok(Date.now() - began >= 150, 'restarts wait their backoff');
      assert.equal(crashed.restarts, QUICK_RESTARTS.maxRestarts);
      assert.equal(crashed.lastExit?.code, 3);
      assert.equal(crashed.lastExit?.signal, null);
      await sleep(300);
      assert.equal((await unitOf(app, unit.id))?.state, 'crashed', 'crashed stays crashed');
      const errors = (await driver.readLogs({ app })).filter((line) => line.stream === 'stderr');
      assert.equal(errors.length, 3, 'the first run and two restarts');
      await driver.stop(unit.id, { graceMs: 0 });
      assert.deepEqual(await driver.list({ app }), []);
    });

    it('reads a unit’s stdout and stderr lines with their type and index', async () => {
      const app = newApp();
      const unit = await driver.start(
        spec(app, fixture.command('lines.mjs'), {
          processType: 'worker',
          index: 2,
          id: `${app}-w`,
        }),
      );
      const lines = await eventually('the lines', async () => {
        const read = await driver.readLogs({ app });
        return read.filter((line) => line.stream !== 'system').length >= 4 ? read : undefined;
      });
      const output = lines.filter((line) => line.stream !== 'system');
      assert.deepEqual(
        output.filter((line) => line.stream === 'stdout').map((line) => line.text),
        ['out 1', 'out 2', 'out 3'],
      );
      assert.deepEqual(
        output.filter((line) => line.stream === 'stderr').map((line) => line.text),
        ['err 1'],
      );
      for (const line of output) {
        assert.equal(line.app, app);
        assert.equal(line.unitId, unit.id);
        assert.equal(line.processType, 'worker');
        assert.equal(line.index, 2);
        assert.equal(line.release, 7);
        assert.match(line.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
      const lastTwo = await driver.readLogs({ app, tail: 2 });
      assert.deepEqual(lastTwo, lines.slice(-2));
      assert.deepEqual(await driver.readLogs({ app, processType: 'web' }), []);
    });

    it('follows new lines as they are written, until aborted', async () => {
      const app = newApp();
      const unit = await driver.start(spec(app, fixture.command('web.mjs')));
      await eventually(
        'the unit to say it listens',
        async () =>
          (await driver.readLogs({ app })).some((line) => line.text.startsWith('listening on')) ||
          undefined,
      );
      const seen: LogLine[] = [];
      const abort = new AbortController();
      const following = driver.followLogs({ app }, (line) => seen.push(line), abort.signal);
      await sleep(100);
      await getJson(unit.address, '/log?text=first%20followed');
      await getJson(unit.address, '/log?text=second%20followed');
      await eventually('the followed lines', async () =>
        seen.filter((line) => line.text.endsWith(' followed')).length === 2 ? true : undefined,
      );
      assert.deepEqual(
        seen.filter((line) => line.text.endsWith(' followed')).map((line) => line.text),
        ['first followed', 'second followed'],
      );
      assert.ok(!seen.some((line) => line.text.startsWith('listening on')), 'only new lines');
      abort.abort();
      await following;
      await getJson(unit.address, '/log?text=after%20abort');
      await sleep(100);
      assert.ok(!seen.some((line) => line.text === 'after abort'));
    });

    it('runs a one-off process to its end and returns its output and exit code', async () => {
      const app = newApp();
      const lines: LogLine[] = [];
      const result = await driver.run(
        {
          id: `${app}-run-1`,
          app,
          release: 7,
          command: fixture.command('oneoff.mjs', '4'),
          artifact: fixture.artifact,
          env: {},
          timeoutMs: 10_000,
        },
        (line) => lines.push(line),
        new AbortController().signal,
      );
      assert.equal(result.exitCode, 4);
      assert.equal(result.signal, null);
      assert.equal(result.timedOut, false);
      assert.equal(result.truncated, false);
      assert.match(result.output, new RegExp(`hello from run ${app}`));
      assert.match(result.output, /to stderr/);
      const output = lines.filter((line) => line.stream !== 'system');
      assert.deepEqual(output.map((line) => [line.stream, line.processType]).sort(), [
        ['stderr', 'run'],
        ['stdout', 'run'],
      ]);
      const logged = await driver.readLogs({ app, processType: 'run' });
      assert.ok(logged.some((line) => line.text === `hello from run ${app}`));
    });

    it('ends a one-off process that outlives its timeout', async () => {
      const app = newApp();
      const began = Date.now();
      const result = await driver.run(
        {
          id: `${app}-run-2`,
          app,
          release: 7,
          command: fixture.command('oneoff.mjs', 'sleep'),
          artifact: fixture.artifact,
          env: {},
          timeoutMs: 500,
        },
        () => undefined,
        new AbortController().signal,
      );
      assert.equal(result.timedOut, true);
      assert.equal(result.exitCode, null);
      assert.equal(result.signal, 'SIGKILL');
      // The process would sleep forever: any bound shows the timeout ended it. A loaded container
      // engine takes seconds for create, start, kill and remove.
      assert.ok(Date.now() - began < 30_000, 'the timeout ends it; nothing waits for the process');
    });

    it('leaves units running on destroy, and a new driver adopts them', async () => {
      const app = newApp();
      const first = await newDriver();
      const unit = await first.start(spec(app, fixture.command('web.mjs')));
      await waitUntilListening(unit);
      const before = await getJson<WebEcho>(unit.address, '/env');
      await first.destroy();
      await assert.rejects(first.list(), /destroyed/);
      const second = await newDriver();
      const [adopted] = await second.list({ app });
      assert.equal(adopted?.id, unit.id);
      assert.equal(adopted?.state, 'running');
      assert.deepEqual(adopted?.address, unit.address);
      const after = await getJson<WebEcho>(unit.address, '/env');
      assert.equal(after.pid, before.pid, 'the same process, not a restart');
      await second.stop(unit.id, { graceMs: 2000 });
      assert.deepEqual(await second.list({ app }), []);
    });

    it('refuses invalid specs with InputError before the driver sees them', async () => {
      const app = newApp();
      const command = fixture.command('web.mjs');
      const refused = async (bad: UnitSpec, pattern: RegExp) => {
        await assert.rejects(driver.start(bad), (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.equal(error.code, ErrorCodes.UNIT_SPEC_INVALID);
          assert.match(error.message, pattern);
          return true;
        });
      };
      await refused(spec(app, command, { id: 'Bad_Id' }), /unit id/);
      await refused(spec(app, command, { id: '-leading-dash' }), /unit id/);
      await refused(spec(app, command, { index: 0 }), /index/);
      await refused(spec(app, command, { release: 0 }), /release/);
      await refused(spec(app, command, { env: { PORT: '80' } }), /PORT is set by the runtime/);
      await refused(spec(app, command, { env: { BERTH_UNIT: 'x' } }), /BERTH_UNIT/);
      await refused(spec(app, command, { env: { 'BAD-KEY': 'x' } }), /not a valid name/);
      await refused(spec(app, command, { env: { OK: 'a\0b' } }), /NUL/);
      await refused(spec(app, { kind: 'shell', line: '  ' }), /empty/);
      await refused(spec(app, { kind: 'exec', argv: [] }), /empty/);
      await assert.rejects(
        driver.run(
          {
            id: 'Bad Id',
            app,
            release: 1,
            command,
            artifact: fixture.artifact,
            env: {},
            timeoutMs: 1000,
          },
          () => undefined,
          new AbortController().signal,
        ),
        InputError,
      );
      assert.deepEqual(await driver.list({ app }), []);
    });
  });
}
