// `npm test`: runs every test file under test/ with node:test, on SQLite and on one private
// PostgreSQL cluster started for the whole run (each test creates its own database in it), and
// with a container engine: BERTH_TEST_ENGINE_SOCKET, or a private Podman service started here.
// Arguments narrow the run: `npm test -- test/changes` runs the files under that path.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildStackImages } from '../src/build/stacks/index.js';
import { connectEngine } from '../src/engine/index.js';
import {
  findPodman,
  startPodmanService,
  type PodmanService,
} from '../test/support/podman-service.js';
import { startPostgresCluster, type PostgresCluster } from '../test/support/postgres-cluster.js';

function testFiles(root: string): string[] {
  if (statSync(root).isFile()) return [root];
  return readdirSync(root, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(root, entry.name);
      if (entry.isDirectory()) return entry.name === 'support' ? [] : testFiles(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test']).flatMap(testFiles);
if (files.length === 0) {
  process.stderr.write('no test files found\n');
  process.exit(1);
}

let cluster: PostgresCluster | undefined;
let podman: PodmanService | undefined;
const stopServices = async () => {
  cluster?.stop();
  await podman?.stop();
};
// A signal during setup (the stacks build takes a minute the first time) must not leave the
// cluster or the Podman service running; once the tests run, the child's exit cleans up.
const running: { child?: ChildProcess } = {};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (running.child) running.child.kill(signal);
    else void stopServices().finally(() => process.exit(1));
  });
}

const env = { ...process.env };
if (!env['BERTH_TEST_DATABASE_URL']) {
  cluster = await startPostgresCluster();
  env['BERTH_TEST_DATABASE_URL'] = cluster.adminUrl;
}
if (!env['BERTH_TEST_ENGINE_SOCKET'] && findPodman()) {
  podman = await startPodmanService();
  env['BERTH_TEST_ENGINE_SOCKET'] = podman.socket;
}
const engineSocket = env['BERTH_TEST_ENGINE_SOCKET'];
if (engineSocket) {
  // Container tests run FROM Berth's own stack images; build them once here (a minute the first
  // time, a ping when present) rather than in a test with a timeout.
  const started = performance.now();
  try {
    const { engine } = await connectEngine({ socket: engineSocket });
    const results = await buildStackImages({ engine });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const each = results.map(
      (r) => `${r.image} ${r.status} (${(r.sizeBytes / 1024 / 1024).toFixed(0)} MiB)`,
    );
    process.stdout.write(`stack images ready in ${seconds} s: ${each.join(', ')}\n`);
  } catch (error) {
    // Tests that need the images fail on their own with this in view; the rest still run.
    process.stderr.write(`stack images not built: ${(error as Error).message}\n`);
  }
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  { stdio: 'inherit', env },
);
running.child = child;
child.on('exit', (code, signal) => {
  void stopServices().finally(() => process.exit(code ?? (signal ? 1 : 0)));
});
