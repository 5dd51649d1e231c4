// One user's app must not reach the platform or another user's app, on the container runtime
// (issue 12), against the test run's real Podman. Alice's app holds a secret config var; Bob's
// app, from a one-off and from its running unit, tries to read the controller's data dir,
// Alice's logs and her processes' environment, and to reach her container by name and address.
// Each attempt's exact outcome is asserted, next to a probe from Alice's own app that reaches
// her container (so that a failure is the isolation, not a broken probe).
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '../../src/engine/index.js';
import { createUserAndLogin, startTestServer, type TestServer } from '../support/api.js';
import { connectTestEngine, removeTestApps, testEngineSocket } from '../support/engine.js';
import { deploy, eventually, viaRouter } from '../support/platform.js';
import { nodeHelloApp } from '../support/sample-apps.js';

/** Alice's secret: it must appear nowhere Bob can read. */
const SECRET = `s3cret-of-alice-${process.pid}`;
const APP_A = 'isoa';
const APP_B = 'isob';

/**
 * Bob's probe (CommonJS, node: modules only): every attempt returns what happened, an error
 * code or what it read, never throws. `node probe.js '<targets JSON>'` prints the result; the
 * server answers it at /probe?targets=….
 */
const PROBE = `'use strict';
const fs = require('fs');
const net = require('net');
const dns = require('dns');
function read(file) {
  try { return 'read ' + fs.readFileSync(file).length + ' bytes'; } catch (e) { return e.code; }
}
function connect(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, 3000);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve('connected'); });
    socket.once('error', (e) => { clearTimeout(timer); resolve(e.code); });
  });
}
function lookup(name) {
  return new Promise((resolve) => dns.lookup(name, (e, address) => resolve(e ? e.code : address)));
}
function processes() {
  return fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).map((pid) => {
    const text = (file) => {
      try { return fs.readFileSync('/proc/' + pid + '/' + file, 'utf8').split('\\0').join(' ').trim(); }
      catch (e) { return e.code; }
    };
    return { pid: Number(pid), cmdline: text('cmdline'), environ: text('environ') };
  });
}
async function probe(targets) {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const tcp = {};
  for (const [host, port] of targets.tcp) tcp[host + ':' + port] = await connect(host, port);
  return {
    uid: process.getuid(),
    gid: process.getgid(),
    capEff: /CapEff:\\s*(\\S+)/.exec(status)[1],
    pidsMax: read('/sys/fs/cgroup/pids/pids.max') === 'ENOENT' ? null
      : fs.readFileSync('/sys/fs/cgroup/pids/pids.max', 'utf8').trim(),
    files: Object.fromEntries(targets.files.map((file) => [file, read(file)])),
    processes: processes(),
    dns: Object.fromEntries(await Promise.all(targets.names.map(async (n) => [n, await lookup(n)]))),
    tcp,
  };
}
module.exports = { probe };
if (require.main === module) probe(JSON.parse(process.argv[2])).then((r) => console.log(JSON.stringify(r)));
`;

/** Bob's app: a web server that runs the probe on request. */
const probeApp = {
  'package.json': JSON.stringify({
    name: 'probe',
    private: true,
    scripts: { start: 'node web.js' },
  }),
  'probe.js': PROBE,
  'web.js': `'use strict';
const http = require('http');
const { probe } = require('./probe.js');
http.createServer((q, s) => {
  const url = new URL(q.url, 'http://localhost');
  if (url.pathname !== '/probe') return s.end('probe app');
  probe(JSON.parse(url.searchParams.get('targets'))).then((r) => s.end(JSON.stringify(r)));
}).listen(Number(process.env.PORT));
`,
};

interface Targets {
  readonly files: string[];
  readonly names: string[];
  readonly tcp: [string, number][];
}

interface ProbeResult {
  readonly uid: number;
  readonly gid: number;
  readonly capEff: string;
  readonly pidsMax: string | null;
  readonly files: Record<string, string>;
  readonly processes: { pid: number; cmdline: string; environ: string }[];
  readonly dns: Record<string, string>;
  readonly tcp: Record<string, string>;
}

describe('apps of two users on the container runtime are kept apart', () => {
  let server: TestServer;
  let engine: Engine;
  let alice: string;
  let bob: string;
  /** Alice's unit: its container's name and address on her app's network, its port. */
  let unitA: { name: string; ip: string; port: number };
  let gatewayB: string;
  let targets: Targets;

  before(async () => {
    ({ engine } = await connectTestEngine());
    server = await startTestServer('sqlite', {
      runtime: 'container',
      env: { BERTH_STOP_GRACE_MS: '2000', BERTH_DRAIN_TIMEOUT_MS: '2000' },
    });
    alice = await createUserAndLogin(server, 'alice');
    bob = await createUserAndLogin(server, 'bob');
    for (const [token, app] of [
      [alice, APP_A],
      [bob, APP_B],
    ] as const) {
      const created = await server.request('POST', '/apps', { token, body: { name: app } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const config = await server.request('PATCH', `/apps/${APP_A}/config`, {
      token: alice,
      body: { API_SECRET: SECRET },
    });
    assert.equal(config.status, 200, JSON.stringify(config.body));
    const [a, b] = await Promise.all([
      deploy(server, alice, APP_A, { ...nodeHelloApp, 'probe.js': PROBE }),
      deploy(server, bob, APP_B, probeApp),
    ]);
    assert.equal(a.status, 'succeeded', a.details.error ?? '');
    assert.equal(b.status, 'succeeded', b.details.error ?? '');
    assert.equal((await viaRouter(server.server.routerUrl, APP_A, `/env/API_SECRET`)).text, SECRET);

    const [containerA] = await engine.listContainers({
      filters: { label: [`berth.app=${APP_A}`, 'berth.kind=unit'] },
    });
    assert.ok(containerA);
    const infoA = await engine.getContainer(containerA.Id).inspect();
    unitA = {
      name: infoA.Name.replace(/^\//, ''),
      ip: infoA.NetworkSettings.Networks[`berth-app-${APP_A}`]?.IPAddress ?? '',
      port: Number(infoA.Config.Labels['berth.port']),
    };
    assert.match(unitA.ip, /^\d+\.\d+\.\d+\.\d+$/);
    const networkB = (await engine.getNetwork(`berth-app-${APP_B}`).inspect()) as {
      IPAM: { Config: { Gateway: string }[] };
    };
    gatewayB = networkB.IPAM.Config[0]?.Gateway ?? '';
    assert.match(gatewayB, /^\d+\.\d+\.\d+\.\d+$/);

    const dataDir = server.location.dataDir;
    const logsA = path.join(dataDir, 'containers', 'logs', APP_A);
    const [logFileA] = readdirSync(logsA);
    assert.ok(logFileA, 'Alice has a log file on the host');
    const apiPort = Number(new URL(server.url).port);
    const routerPort = Number(new URL(server.server.routerUrl).port);
    targets = {
      files: [
        path.join(dataDir, 'master.key'),
        path.join(dataDir, 'initial-admin-token'),
        dataDir,
        path.join(logsA, logFileA),
        testEngineSocket(),
      ],
      names: [unitA.name],
      tcp: [
        [unitA.ip, unitA.port],
        [gatewayB, unitA.port],
        ['127.0.0.1', unitA.port],
        [gatewayB, apiPort],
        [gatewayB, routerPort],
      ],
    };
    // What the probes must not find is there on the host.
    for (const file of targets.files.slice(0, 4)) assert.ok(existsSync(file), file);
  });

  after(async () => {
    // Bob's app goes the way Alice's went, so that its network does not outlive the run.
    await server?.request('DELETE', `/apps/${APP_B}`, { token: bob }).catch(() => undefined);
    await server?.close();
    await removeTestApps(engine, [APP_A, APP_B]);
  });

  const runProbe = async (token: string, app: string): Promise<ProbeResult> => {
    const reply = await server.request('POST', `/apps/${app}/run`, {
      token,
      body: { command: ['node', 'probe.js', JSON.stringify(targets)], timeoutSeconds: 60 },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const result = reply.body as { exitCode: number; output: string };
    assert.equal(result.exitCode, 0, result.output);
    return JSON.parse(result.output.trim().split('\n').at(-1) ?? '') as ProbeResult;
  };

  /** What Bob's app must see, from a one-off and from its unit alike. */
  const assertKeptApart = (seen: ProbeResult, where: string) => {
    const said = `${where}: ${JSON.stringify(seen)}`;
    assert.ok(!JSON.stringify(seen).includes(SECRET), `${where} found Alice's secret`);
    assert.equal(seen.uid, 10001, said);
    assert.equal(seen.gid, 10001, said);
    assert.equal(seen.capEff, '0000000000000000', said);
    assert.equal(seen.pidsMax, '512', said);
    assert.deepEqual(
      seen.files,
      Object.fromEntries(targets.files.map((file) => [file, 'ENOENT'])),
      said,
    );
    // Its own pid namespace: the init, the probe and (in the unit) nothing else of anyone's.
    for (const process of seen.processes) {
      assert.match(process.cmdline, /^\/run\/podman-init -- |^node (probe|web)\.js/, said);
      assert.match(process.environ, /BERTH_APP=isob\b/, said);
    }
    assert.ok(seen.processes.length <= 3, said);
    assert.deepEqual(seen.dns, { [unitA.name]: 'ENOTFOUND' }, said);
    assert.deepEqual(
      seen.tcp,
      {
        // Another app's network: the engine drops the packets.
        [`${unitA.ip}:${unitA.port}`]: 'timeout',
        // Published on the host's loopback only, and the container's loopback is its own.
        [`${gatewayB}:${unitA.port}`]: 'ECONNREFUSED',
        [`127.0.0.1:${unitA.port}`]: 'ECONNREFUSED',
        // The controller's API and router listen on the host's loopback.
        [`${gatewayB}:${targets.tcp[3]?.[1]}`]: 'ECONNREFUSED',
        [`${gatewayB}:${targets.tcp[4]?.[1]}`]: 'ECONNREFUSED',
      },
      said,
    );
  };

  it("Alice's own one-off reaches her unit by name and address (the probe works)", async () => {
    const seen = await runProbe(alice, APP_A);
    assert.equal(seen.dns[unitA.name], unitA.ip, JSON.stringify(seen.dns));
    assert.equal(seen.tcp[`${unitA.ip}:${unitA.port}`], 'connected', JSON.stringify(seen.tcp));
    assert.equal(seen.uid, 10001);
  });

  it("Bob's one-off finds no data dir, no logs, no secret, no process and no address of Alice's", async () => {
    assertKeptApart(await runProbe(bob, APP_B), 'one-off');
  });

  it("Bob's running unit finds none of them either", async () => {
    const reply = await viaRouter(
      server.server.routerUrl,
      APP_B,
      `/probe?targets=${encodeURIComponent(JSON.stringify(targets))}`,
      { timeoutMs: 30_000 },
    );
    assert.equal(reply.status, 200, reply.text);
    assertKeptApart(JSON.parse(reply.text) as ProbeResult, 'unit');
  });

  it("Bob cannot run a one-off in Alice's app", async () => {
    const reply = await server.request('POST', `/apps/${APP_A}/run`, {
      token: bob,
      body: { command: ['env'] },
    });
    assert.ok([403, 404].includes(reply.status), JSON.stringify(reply.body));
    assert.ok(!JSON.stringify(reply.body).includes(SECRET));
  });

  it("destroying Alice's app removes its containers, network, images and logs; the name starts empty", async () => {
    const destroyed = await server.request('DELETE', `/apps/${APP_A}`, { token: alice });
    assert.ok([200, 202, 204].includes(destroyed.status), JSON.stringify(destroyed.body));
    await eventually('nothing of the app is left in the engine', async () => {
      const containers = await engine.listContainers({
        all: true,
        filters: { label: [`berth.app=${APP_A}`] },
      });
      const images = await engine.listImages({ filters: { reference: [`berth/${APP_A}`] } });
      const networks = await engine.listNetworks({
        filters: { name: [`berth-app-${APP_A}`] },
      });
      return containers.length === 0 && images.length === 0 && networks.length === 0;
    });
    assert.equal(
      existsSync(path.join(server.location.dataDir, 'containers', 'logs', APP_A)),
      false,
      'the log files are gone',
    );
    const again = await server.request('POST', '/apps', { token: bob, body: { name: APP_A } });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const logs = await server.request('GET', `/apps/${APP_A}/logs?tail=100`, { token: bob });
    assert.deepEqual(logs.body, []);
    const releases = await server.request('GET', `/apps/${APP_A}/releases`, { token: bob });
    assert.deepEqual(releases.body, []);
    const config = await server.request('GET', `/apps/${APP_A}/config`, { token: bob });
    assert.deepEqual(config.body, {});
  });
});
