// `berth kube manifests` against a real server (process runtime): what it prints, and the
// one line and exit code of each kind of bad input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/api.js';
import { nodeApp } from '../support/bundles.js';
import { cli, freshConfigHome } from '../support/cli.js';
import { deploy } from '../support/platform.js';

describe('berth kube manifests', () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startTestServer('sqlite');
    env = {
      BERTH_SERVER: server.url,
      BERTH_TOKEN: server.adminToken,
      XDG_CONFIG_HOME: freshConfigHome(),
    };
    const created = await server.request('POST', '/apps', {
      token: server.adminToken,
      body: { name: 'shop' },
    });
    assert.equal(created.status, 201);
    const deployed = await deploy(server, server.adminToken, 'shop', nodeApp);
    assert.equal(deployed.status, 'succeeded', deployed.details.error ?? '');
  });

  after(() => server?.close());

  it('prints the YAML the API gives, unchanged', async () => {
    const printed = await cli(['kube', 'manifests', 'shop'], { env });
    assert.equal(printed.code, 0, printed.stderr);
    const served = await server.request('GET', '/apps/shop/kube-manifests', {
      token: server.adminToken,
    });
    assert.equal(printed.stdout, served.body);
    assert.match(printed.stdout, /^kind: Deployment$/m);
  });

  it('--json --release v1 --registry REF: that release as JSON, its image in that registry', async () => {
    const printed = await cli(
      [
        'kube',
        'manifests',
        '--app',
        'shop',
        '--json',
        '--release',
        'v1',
        '--registry',
        'reg.example.com/team',
      ],
      { env },
    );
    assert.equal(printed.code, 0, printed.stderr);
    const body = JSON.parse(printed.stdout) as { release: number; image: string };
    assert.equal(body.release, 1);
    assert.equal(body.image, 'reg.example.com/team/berth/shop:v1');
  });

  it('bad input: one line on stderr and a non-zero exit code each', async () => {
    const cases: [string[], RegExp, number?][] = [
      [['kube', 'manifests', 'nosuch'], /nosuch/],
      [['kube', 'manifests', 'shop', '--release', 'v99'], /no release v99/],
      [['kube', 'manifests', 'shop', '--registry', 'Not A Registry'], /HOST\[:PORT\]\[\/PREFIX\]/],
      [['kube', 'manifests', 'shop', '--release', 'latest'], /not a release/, 2],
      [['kube', 'manifest', 'shop'], /unknown command/, 2],
    ];
    for (const [args, message, code] of cases) {
      const result = await cli(args, { env });
      const label = `berth ${args.join(' ')}: ${result.code} ${result.stderr}`;
      assert.notEqual(result.code, 0, label);
      if (code !== undefined) assert.equal(result.code, code, label);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, label);
      assert.match(result.stderr, message, label);
      assert.equal(result.stdout, '', label);
    }
  });

  it('berth help names it', async () => {
    const help = await cli(['help'], { env });
    assert.match(help.stdout, /kube manifests/);
  });
});
