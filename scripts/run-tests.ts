// `npm test`: runs every test file under test/ with node:test, on SQLite and on one private
// PostgreSQL cluster started for the whole run (each test creates its own database in it).
// Arguments narrow the run: `npm test -- test/changes` runs the files under that path.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
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
const env = { ...process.env };
if (!env['BERTH_TEST_DATABASE_URL']) {
  cluster = await startPostgresCluster();
  env['BERTH_TEST_DATABASE_URL'] = cluster.adminUrl;
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  { stdio: 'inherit', env },
);
const stopCluster = () => cluster?.stop();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  stopCluster();
  process.exit(code ?? (signal ? 1 : 0));
});
