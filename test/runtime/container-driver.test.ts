// The container runtime against a real Podman engine through its Docker API: the shared
// driver contract, then what only containers do (limits, labels, networks, engine faults).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
import { driverContract, waitUntilListening } from './contract.js';
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
      await engine.getImage(tag).remove({ force: true });
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
