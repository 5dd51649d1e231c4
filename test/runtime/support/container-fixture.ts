// The container runtime's contract fixture: an image holding the contract scripts, built FROM
// Berth's node stack image on the test run's real engine, and a runtime root per driver factory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ContainerDriver, type ContainerDriverOptions } from '../../../src/runtime/index.js';
import { buildTestImage, connectTestEngine, testBaseImage } from '../../support/engine.js';
import type { ContractFixture } from '../contract.js';
import { CONTRACT_SCRIPTS, type ContractScript } from '../contract-scripts.js';

/** The image tag of the contract scripts; rebuilt by each run (the engine's cache makes it cheap). */
export const CONTRACT_IMAGE = 'localhost/berth-test/contract:latest';

export async function containerFixture(
  options: Omit<ContainerDriverOptions, 'root' | 'engine'> = {},
): Promise<ContractFixture & { readonly root: string; readonly dir: string }> {
  const { engine } = await connectTestEngine();
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-containers-'));
  const root = path.join(dir, 'runtime');
  await buildTestImage(engine, CONTRACT_IMAGE, {
    Dockerfile: `FROM ${testBaseImage('node')}\nWORKDIR /app\nCOPY *.mjs /app/\n`,
    ...CONTRACT_SCRIPTS,
  });
  return {
    dir,
    root,
    createDriver: () => new ContainerDriver({ engine, root, ...options }),
    artifact: { kind: 'image', ref: CONTRACT_IMAGE },
    command: (script: ContractScript, ...args: string[]) => ({
      kind: 'exec',
      argv: ['node', `/app/${script}`, ...args],
    }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
