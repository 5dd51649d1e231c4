// The process runtime's contract fixture: a temporary directory holding the contract scripts
// as the artifact, and a runtime root per driver factory.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessDriver, type ProcessDriverOptions } from '../../../src/runtime/index.js';
import type { ContractFixture } from '../contract.js';
import { CONTRACT_SCRIPTS, type ContractScript } from '../contract-scripts.js';

/** A scratch directory with the contract scripts in `app/` and room for a runtime root. */
export async function processFixture(
  options: Omit<ProcessDriverOptions, 'root'> = {},
): Promise<ContractFixture & { readonly root: string; readonly dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-runtime-'));
  const artifactPath = path.join(dir, 'app');
  const root = path.join(dir, 'runtime');
  await mkdir(artifactPath);
  for (const [name, source] of Object.entries(CONTRACT_SCRIPTS)) {
    await writeFile(path.join(artifactPath, name), source);
  }
  return {
    dir,
    root,
    createDriver: () => new ProcessDriver({ root, ...options }),
    artifact: { kind: 'directory', path: artifactPath },
    command: (script: ContractScript, ...args: string[]) => ({
      kind: 'exec',
      argv: [process.execPath, script, ...args],
    }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
