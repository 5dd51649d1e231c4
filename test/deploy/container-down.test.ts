// `berth down` of a container-runtime data dir on the test run's real Podman: the data dir
// remembers the engine its units live on (containers/engine.json), so down stops the router
// and the containers without being told the socket again.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '../../src/engine/index.js';
import { ContainerLabels } from '../../src/runtime/index.js';
import { stopDataPlane } from '../../src/server/index.js';
import { startTestServer, type TestServer } from '../support/api.js';
import {
  connectTestEngine,
  removeTestApps,
  testBaseImage,
  testEngineSocket,
} from '../support/engine.js';
import { deploy, viaRouter } from '../support/platform.js';

const app = {
  Dockerfile: [
    `FROM ${testBaseImage('node')}`,
    'WORKDIR /srv',
    'COPY server.js .',
    'CMD ["node", "server.js"]',
    '',
  ].join('\n'),
  'server.js': `require('http').createServer((q, s) => s.end('down1 up')).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
};

describe('berth down on the container runtime', () => {
  let server: TestServer;
  let engine: Engine;
  const dockerHost = process.env['DOCKER_HOST'];

  before(async () => {
    engine = (await connectTestEngine()).engine;
    server = await startTestServer('sqlite', { runtime: 'container' });
  });
  after(async () => {
    if (dockerHost === undefined) delete process.env['DOCKER_HOST'];
    else process.env['DOCKER_HOST'] = dockerHost;
    await server.close();
    await removeTestApps(engine, ['down1']);
  });

  it('stops the router and the containers on the engine the data dir remembers', async () => {
    const { dataDir } = server.location;
    const record = path.join(dataDir, 'containers', 'engine.json');
    assert.equal(statSync(record).mode & 0o777, 0o600, 'the record is the controller’s alone');

    const token = server.adminToken;
    assert.equal(
      (await server.request('POST', '/apps', { token, body: { name: 'down1' } })).status,
      201,
    );
    const deployed = await deploy(server, token, 'down1', app);
    assert.equal(deployed.status, 'succeeded', deployed.details.error ?? '');
    const routerUrl = server.server.routerUrl;
    assert.equal((await viaRouter(routerUrl, 'down1')).text, 'down1 up');
    const running = async () =>
      (
        await engine.listContainers({
          filters: { label: [`${ContainerLabels.app}=down1`], status: ['running'] },
        })
      ).length;
    assert.equal(await running(), 1);

    await server.server.close();
    // As `berth down` run with no --engine-socket and no DOCKER_HOST: none of the usual
    // sockets is the test run's private engine.
    delete process.env['DOCKER_HOST'];
    const stopped = await stopDataPlane(dataDir, 1000);
    assert.deepEqual(stopped, { units: 1, addons: 0, router: true });
    assert.equal(await running(), 0, 'its container is stopped');
    await assert.rejects(fetch(routerUrl), 'the router is gone');
    assert.ok(testEngineSocket());
  });
});
