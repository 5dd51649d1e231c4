// A stand-in controller: starts (or adopts) the router of a data dir, prints the result as one
// JSON line and exits, so a test can check that the router outlives the process that started it.
import path from 'node:path';
import { silentLogger } from '../../../src/logging/index.js';
import { ensureRouterProcess } from '../../../src/router/index.js';
import { routerCommand } from './router-command.js';
import { compiledDefaults } from '../../support/compiled-defaults.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: ensure-router-then-exit.ts DATA_DIR');
const result = await ensureRouterProcess({
  dir: path.join(dataDir, 'router'),
  listen: { host: '127.0.0.1', port: 0 },
  logger: silentLogger(),
  command: routerCommand(dataDir),
  controlTimeoutMs: compiledDefaults.routerControlTimeoutMs,
});
process.stdout.write(`${JSON.stringify(result)}\n`);
