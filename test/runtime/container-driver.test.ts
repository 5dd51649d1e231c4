// The container runtime against a real Podman engine through its Docker API: the shared
// driver contract, then what only containers do (limits, labels, networks, engine faults).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { removeImage } from '../../src/build/index.js';
import type { Engine } from '../../src/engine/index.js';
import { ErrorCodes } from '../../src/errors/index.js';
import {
  appNetworkName,
  ContainerDriver,
  ContainerLabels,
  containerName,
  DEFAULT_RESTART_POLICY,
  RuntimeDriver,
  type UnitSpec,
} from '../../src/runtime/index.js';
import { buildTestImage, connectTestEngine } from '../support/engine.js';
import {
  DEFAULT_PIDS_LIMIT,
  GUARD_CHAINS,
  IptablesNetworkGuard,
} from '../../src/runtime/container/index.js';
import { driverContract, eventually, waitUntilListening } from './contract.js';
import { CONTRACT_IMAGE, containerFixture } from './support/container-fixture.js';

driverContract('container', () => containerFixture({ portRange: { from: 31_000, to: 31_999 } }));

describe('container runtime', () => {
  let fixture: Awaited<ReturnType<typeof containerFixture>>;
  let engine: Engine;
  let driver: RuntimeDriver;
  let counter = 0;
  const newApp = () => `ctr-${process.pid}-${++counter}`;

  before(async () => {
    fixture = await containerFixture({ portRange: { from: 32_000, to: 32_499 } });
    ({ engine } = await connectTestEngine());
    driver = new RuntimeDriver(fixture.createDriver());
    await driver.init();
  });
  after(async () => {
    for (const unit of await driver.list()) await driver.stop(unit.id, { graceMs: 0 });
    // This file's apps' networks (and their firewall rules), the contract suite's included.
    const networks = await engine.listNetworks();
    for (const { Name: name } of networks) {
      const app = /^berth-app-((?:ctr|contract)-(\d+)-\d+)$/.exec(name ?? '');
      if (app?.[1] && app[2] === String(process.pid)) await driver.removeApp(app[1]);
    }
    await driver.destroy();
    await fixture.cleanup();
  });

  const spec = (app: string, extra: Partial<UnitSpec> = {}): UnitSpec => ({
    id: `${app}-web-1`,
    app,
    release: 1,
    processType: 'web',
    index: 1,
    command: fixture.command('web.mjs'),
    artifact: fixture.artifact,
    env: {},
    restart: DEFAULT_RESTART_POLICY,
    ...extra,
  });

  it('labels a unit’s container, puts it on its app’s network, limits it and grants nothing more', async () => {
    const app = newApp();
    const unit = await driver.start(
      spec(app, { limits: { memoryBytes: 96 * 1024 * 1024, cpus: 0.25 } }),
    );
    const info = await engine.getContainer(containerName(unit.id)).inspect();
    assert.equal(info.Config.Labels[ContainerLabels.unit], unit.id);
    assert.equal(info.Config.Labels[ContainerLabels.app], app);
    assert.equal(info.Config.Labels[ContainerLabels.process], 'web');
    assert.equal(info.Config.Labels[ContainerLabels.index], '1');
    assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [appNetworkName(app)]);
    assert.equal(info.HostConfig.Memory, 96 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 250_000_000);
    assert.equal(info.HostConfig.Privileged, false);
    assert.deepEqual(info.HostConfig.Binds ?? [], []);
    const securityOptions = (info.HostConfig.SecurityOpt ?? []) as string[];
    assert.ok(securityOptions.includes('no-new-privileges'), securityOptions.join(', '));
    // Podman 4.3 lists CapDrop ['ALL'] as the capabilities it dropped: every default one.
    const dropped = (info.HostConfig.CapDrop ?? []) as string[];
    for (const cap of ['CHOWN', 'DAC_OVERRIDE', 'NET_BIND_SERVICE', 'NET_RAW', 'SETUID']) {
      assert.ok(dropped.includes(cap) || dropped.includes('ALL'), `${cap}: ${dropped.join()}`);
    }
    assert.deepEqual(info.HostConfig.CapAdd ?? [], []);
    assert.equal(info.HostConfig.PidsLimit, DEFAULT_PIDS_LIMIT);
    const portBindings = (info.HostConfig.PortBindings ?? {}) as Record<
      string,
      { HostIp: string }[]
    >;
    const bindings = Object.values(portBindings).flat();
    assert.deepEqual(
      bindings.map((b) => b.HostIp),
      ['127.0.0.1'],
      'published on loopback only',
    );
    const [listed] = await driver.list({ app });
    assert.deepEqual(listed?.limits, { memoryBytes: 96 * 1024 * 1024, cpus: 0.25 });
    await driver.stop(unit.id, { graceMs: 1000 });
  });

  /** Runs a shell line as a one-off of a new app on `on` (default the suite's driver). */
  const runLine = async (line: string | string[], on: RuntimeDriver = driver) => {
    const app = newApp();
    return on.run(
      {
        id: `${app}-run-1`,
        app,
        release: 1,
        command: typeof line === 'string' ? { kind: 'shell', line } : { kind: 'exec', argv: line },
        artifact: fixture.artifact,
        env: {},
        timeoutMs: 30_000,
      },
      () => undefined,
      new AbortController().signal,
    );
  };

  it('leaves a root image’s root without capabilities: it cannot chown, nor bind a low port', async () => {
    const result = await runLine(
      'grep -E "^Cap(Prm|Eff|Bnd|Amb)" /proc/self/status; echo "uid=$(id -u)"; ' +
        'touch /tmp/f; chown 1:1 /tmp/f 2>/dev/null || echo chown-refused; ' +
        `node -e "require('net').createServer().listen(80).on('error', (e) => console.log('bind 80: ' + e.code))"`,
    );
    assert.equal(result.exitCode, 0, result.output);
    assert.deepEqual(result.output.trim().split('\n'), [
      'CapPrm:\t0000000000000000',
      'CapEff:\t0000000000000000',
      'CapBnd:\t0000000000000000',
      'CapAmb:\t0000000000000000',
      'uid=0',
      'chown-refused',
      'bind 80: EACCES',
    ]);
  });

  it('stops a fork loop at the pids limit: spawning fails with EAGAIN, the machine is untouched', async (t) => {
    const limited = new RuntimeDriver(
      new ContainerDriver({ engine, root: fixture.root, pidsLimit: 64 }),
    );
    await limited.init();
    try {
      // Node's own threads count too: the loop gets fewer than 64 children.
      const script = `
const { spawn } = require('child_process');
let started = 0;
const next = () => {
  if (started >= 500) return done('none');
  const child = spawn('sleep', ['60']);
  child.once('spawn', () => { started++; next(); });
  child.once('error', (e) => done(e.code));
};
const done = (code) => {
  const max = require('fs').readFileSync('/sys/fs/cgroup/pids/pids.max', 'utf8').trim();
  console.log(JSON.stringify({ started, code, max }));
  process.exit(0);
};
next();`;
      const result = await runLine(['node', '-e', script], limited);
      assert.equal(result.exitCode, 0, result.output);
      const outcome = JSON.parse(result.output.trim().split('\n').at(-1) ?? '') as {
        started: number;
        code: string;
        max: string;
      };
      t.diagnostic(`a limit of 64: ${outcome.started} children started, then ${outcome.code}`);
      assert.equal(outcome.code, 'EAGAIN', result.output);
      assert.equal(outcome.max, '64');
      assert.ok(outcome.started > 20 && outcome.started < 64, result.output);
    } finally {
      await limited.destroy();
    }
  });

  it('holds a one-off to the limits its spec names', async () => {
    const app = newApp();
    const result = await driver.run(
      {
        id: `${app}-run-1`,
        app,
        release: 1,
        command: { kind: 'shell', line: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes' },
        artifact: fixture.artifact,
        env: {},
        timeoutMs: 30_000,
        limits: { memoryBytes: 64 * 1024 * 1024 },
      },
      () => undefined,
      new AbortController().signal,
    );
    assert.equal(result.exitCode, 0, result.output);
    assert.equal(result.output.trim(), String(64 * 1024 * 1024));
  });

  it('grants NET_BIND_SERVICE, and only that, to a unit published below port 1024', async () => {
    const low = new RuntimeDriver(
      new ContainerDriver({ engine, root: fixture.root, portRange: { from: 990, to: 999 } }),
    );
    await low.init();
    const app = newApp();
    try {
      const unit = await low.start(spec(app));
      assert.ok(unit.address.port < 1024);
      await waitUntilListening(unit);
      const info = await engine.getContainer(containerName(unit.id)).inspect();
      // Podman lists what it dropped of its defaults: all of them but the one granted.
      const dropped = (info.HostConfig.CapDrop ?? []) as string[];
      assert.ok(!dropped.includes('NET_BIND_SERVICE'), dropped.join());
      assert.ok(dropped.includes('CHOWN') && dropped.includes('SETUID'), dropped.join());
      await low.stop(unit.id, { graceMs: 1000 });
    } finally {
      await low.destroy();
    }
  });

  it('removeApp stops and removes every container of the app, its network and its logs; other apps stay', async () => {
    const app = newApp();
    const other = newApp();
    const web = await driver.start(spec(app));
    const worker = await driver.start(spec(app, { id: `${app}-worker-1`, processType: 'worker' }));
    const neighbour = await driver.start(spec(other));
    await Promise.all([web, worker, neighbour].map((unit) => waitUntilListening(unit)));
    const oneOff = driver.run(
      {
        id: `${app}-run-1`,
        app,
        release: 1,
        command: { kind: 'shell', line: 'echo one-off started; sleep 60' },
        artifact: fixture.artifact,
        env: {},
        timeoutMs: 60_000,
      },
      () => undefined,
      new AbortController().signal,
    );
    await eventually('the one-off runs', async () => {
      const running = await engine.listContainers({
        filters: { label: [`${ContainerLabels.app}=${app}`, `${ContainerLabels.kind}=one-off`] },
      });
      return running.length === 1 ? true : undefined;
    });
    // A stray container of the app's (a controller crashed before it removed it).
    const rootValue = (await engine.getContainer(containerName(web.id)).inspect()).Config.Labels[
      ContainerLabels.root
    ];
    assert.ok(rootValue);
    const stray = await engine.createContainer({
      Image: CONTRACT_IMAGE,
      Cmd: ['sleep', '60'],
      Labels: {
        [ContainerLabels.root]: rootValue,
        [ContainerLabels.app]: app,
        [ContainerLabels.kind]: 'one-off',
      },
    });
    await stray.start();
    await eventually('the app has logs', async () =>
      (await driver.readLogs({ app })).length > 0 ? true : undefined,
    );
    const logDir = path.join(fixture.root, 'logs', app);
    assert.ok(existsSync(logDir));

    const started = Date.now();
    await driver.removeApp(app);
    const tookMs = Date.now() - started;
    const left = await engine.listContainers({
      all: true,
      filters: { label: [`${ContainerLabels.app}=${app}`] },
    });
    assert.deepEqual(left, []);
    assert.deepEqual(await driver.list({ app }), []);
    assert.equal(existsSync(logDir), false);
    assert.deepEqual(await driver.readLogs({ app }), []);
    await assert.rejects(engine.getNetwork(appNetworkName(app)).inspect(), /no such network|404/i);
    const ended = await oneOff.catch((error: unknown) => error);
    assert.ok(
      ended instanceof Error || (ended as { exitCode: number | null }).exitCode !== 0,
      'the one-off did not run on',
    );
    assert.ok(tookMs < 15_000, `removeApp took ${tookMs} ms`);
    // The other app's unit runs on, and an app of the same name starts empty.
    assert.deepEqual(
      (await driver.list({ app: other })).map((u) => u.state),
      ['running'],
    );
    await driver.removeApp(app); // nothing left: not an error
    const again = await driver.start(spec(app));
    await waitUntilListening(again);
    const [listed] = await driver.list({ app });
    assert.equal(listed?.restarts, 0);
    await driver.removeApp(app);
    await driver.removeApp(other);
    assert.deepEqual(await driver.list({ app: other }), []);
  });

  it('the iptables guard adds each rule once however often asked, and removes them all', async (t) => {
    const guard = await IptablesNetworkGuard.ifAvailable();
    if (!guard) return t.skip('not root, or no iptables here');
    // A subnet no engine hands out by default.
    const subnet = '10.254.253.0/24';
    const rules = async () => {
      const { stdout } = await promisify(execFile)('iptables', ['-w', '-t', 'raw', '-S']);
      return stdout.split('\n').filter((line) => line.includes(subnet));
    };
    await Promise.all([guard.protect(subnet), guard.protect(subnet)]);
    await guard.protect(subnet);
    const added = await rules();
    assert.deepEqual(added.sort(), [
      `-A ${GUARD_CHAINS.isolation} -s ${subnet} -d ${subnet} -j RETURN`,
      `-A ${GUARD_CHAINS.isolation} -s ${subnet} -j ${GUARD_CHAINS.toApps}`,
      `-A ${GUARD_CHAINS.toApps} -d ${subnet} -j DROP`,
    ]);
    await guard.release(subnet);
    await guard.release(subnet);
    assert.deepEqual(await rules(), []);
    await assert.rejects(guard.protect('10.0.0.0/8 -j ACCEPT'), TypeError);
  });

  it('does not start again a unit stopped while it waits out its backoff', async () => {
    const app = newApp();
    const slow = { maxRestarts: 5, backoffMs: 1500, maxBackoffMs: 1500, resetAfterMs: 10_000 };
    const unit = await driver.start(
      spec(app, { command: fixture.command('crash.mjs'), restart: slow }),
    );
    await eventually('the unit to wait out its backoff', async () =>
      (await driver.list({ app }))[0]?.state === 'restarting' ? true : undefined,
    );
    await driver.stop(unit.id, { graceMs: 0 });
    assert.deepEqual(await driver.list({ app }), []);
    await sleep(2000);
    assert.deepEqual(await driver.list({ app }), [], 'the backoff ended without a restart');
    await assert.rejects(engine.getContainer(containerName(unit.id)).inspect(), {
      statusCode: 404,
    });
    const errors = (await driver.readLogs({ app })).filter((line) => line.stream === 'stderr');
    assert.equal(errors.length, 1, 'the first run only');
  });

  it('a new driver adopts a crashed unit as crashed, and does not restart it', async () => {
    const app = newApp();
    const never = { ...DEFAULT_RESTART_POLICY, maxRestarts: 0 };
    const unit = await driver.start(
      spec(app, { command: fixture.command('crash.mjs'), restart: never }),
    );
    await eventually('the unit to crash', async () =>
      (await driver.list({ app }))[0]?.state === 'crashed' ? true : undefined,
    );
    const next = new RuntimeDriver(fixture.createDriver());
    await next.init();
    try {
      await sleep(300);
      const [adopted] = await next.list({ app });
      assert.equal(adopted?.state, 'crashed');
      assert.equal(adopted.restarts, 0);
      assert.equal(adopted.lastExit?.code, 3);
      const errors = (await next.readLogs({ app })).filter((line) => line.stream === 'stderr');
      assert.equal(errors.length, 1, 'adoption started nothing');
      await next.stop(unit.id, { graceMs: 0 });
      assert.deepEqual(await next.list({ app }), []);
    } finally {
      await next.destroy();
    }
  });

  it('refuses a unit whose container name another container holds, and leaves that one alone', async () => {
    const app = newApp();
    const id = `${app}-web-1`;
    const squatter = await engine.createContainer({
      name: containerName(id),
      Image: fixture.artifact.kind === 'image' ? fixture.artifact.ref : '',
      Cmd: ['node', '-e', 'setInterval(() => {}, 1000)'],
    });
    try {
      await assert.rejects(driver.start(spec(app)), (error: unknown) => {
        assert.equal((error as { code?: string }).code, ErrorCodes.UNIT_EXISTS);
        assert.match((error as Error).message, /is not Berth's/);
        return true;
      });
      assert.deepEqual(await driver.list({ app }), []);
      await driver.stop(id, { graceMs: 0 });
      assert.ok(await squatter.inspect(), 'stop() does not touch a container that is not ours');
    } finally {
      await squatter.remove({ force: true });
    }
  });

  it('refuses a directory artifact and an image the engine does not have, creating nothing', async () => {
    const app = newApp();
    await assert.rejects(
      driver.start(spec(app, { artifact: { kind: 'directory', path: '/tmp' } })),
      /runs image artifacts/,
    );
    await assert.rejects(
      driver.start(spec(app, { artifact: { kind: 'image', ref: 'localhost/berth-test/none:v0' } })),
      /is not in the engine/,
    );
    assert.deepEqual(await driver.list({ app }), []);
    const left = await engine.listContainers({
      all: true,
      filters: { label: [`${ContainerLabels.app}=${app}`] },
    });
    assert.deepEqual(left, []);
  });

  it('runs the image’s own command for a Dockerfile app', async () => {
    const app = newApp();
    const tag = 'localhost/berth-test/own-cmd:latest';
    await buildTestImage(engine, tag, {
      Dockerfile: `FROM ${CONTRACT_IMAGE}\nCMD ["node", "/app/web.mjs"]\n`,
    });
    try {
      const unit = await driver.start(
        spec(app, { command: { kind: 'image' }, artifact: { kind: 'image', ref: tag } }),
      );
      await waitUntilListening(unit);
      await driver.stop(unit.id, { graceMs: 2000 });
    } finally {
      await removeImage(engine, tag);
    }
  });

  it('gives units a read-only root file system when asked, with a writable /tmp', async () => {
    const readOnly = new RuntimeDriver(
      new ContainerDriver({
        engine,
        root: fixture.root,
        portRange: { from: 32_500, to: 32_599 },
        readOnlyRootFilesystem: true,
      }),
    );
    await readOnly.init();
    const app = newApp();
    try {
      const result = await readOnly.run(
        {
          id: `${app}-run-1`,
          app,
          release: 1,
          command: {
            kind: 'shell',
            line: 'touch /tmp/ok && echo tmp-writable; touch /app/no 2>/dev/null || echo root-read-only',
          },
          artifact: fixture.artifact,
          env: {},
          timeoutMs: 20_000,
        },
        () => undefined,
        new AbortController().signal,
      );
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /tmp-writable/);
      assert.match(result.output, /root-read-only/);
    } finally {
      await readOnly.destroy();
    }
  });
});
