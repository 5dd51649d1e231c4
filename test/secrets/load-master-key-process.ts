// Run as a separate process: waits until the start time given (so the racers start together),
// loads or creates the master key in the data dir and prints its id and whether it made it.
import { loadOrCreateMasterKey } from '../../src/secrets/index.js';

const [dataDir, startAt] = process.argv.slice(2);
if (!dataDir || !startAt) throw new Error('usage: load-master-key-process DATA_DIR START_MS');
while (Date.now() < Number(startAt)) {
  // Spin rather than sleep: timers are too coarse to line the racers up.
}
const key = loadOrCreateMasterKey({ dataDir, env: {} });
const created = key.source.kind === 'file' && key.source.created;
process.stdout.write(`${JSON.stringify({ id: key.id, created })}\n`);
