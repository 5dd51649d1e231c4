// How tests start `berth router` as a process: the repository's bin, on any free port.
import { fileURLToPath } from 'node:url';

const BERTH_BIN = fileURLToPath(new URL('../../../bin/berth.js', import.meta.url));

/** The argv of `berth router` for a data dir. */
export function routerCommand(dataDir: string): { execPath: string; args: string[] } {
  return {
    execPath: process.execPath,
    args: [BERTH_BIN, 'router', '--data-dir', dataDir, '--router-listen', '127.0.0.1:0'],
  };
}
