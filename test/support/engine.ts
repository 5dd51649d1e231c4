// The real container engine of the test run: scripts/run-tests.ts starts Podman's Docker API
// service and builds the stack images, then names its socket in BERTH_TEST_ENGINE_SOCKET.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar';
import { removeAppImages } from '../../src/build/index.js';
import { connectEngine, type Engine, type EngineConnection } from '../../src/engine/index.js';
import { ContainerLabels } from '../../src/runtime/index.js';

/** The socket of the test run's engine; tests need one and fail without it. */
export function testEngineSocket(): string {
  const socket = process.env['BERTH_TEST_ENGINE_SOCKET'];
  if (!socket) {
    throw new Error(
      'BERTH_TEST_ENGINE_SOCKET is not set: run the tests with npm test, which starts Podman',
    );
  }
  return socket;
}

/** A connection to the test run's engine. */
export function connectTestEngine(): Promise<EngineConnection> {
  return connectEngine({ socket: testEngineSocket() });
}

/** Berth's own stack base images, as `berth stacks build` names them (overridable). */
export function testBaseImage(stack: 'node' | 'python'): string {
  const override = process.env[`BERTH_TEST_${stack.toUpperCase()}_IMAGE`];
  return override || `localhost/berth-stacks/${stack}:bookworm`;
}

/** Builds an image from a Dockerfile and files, straight through the engine API. */
export async function buildTestImage(
  engine: Engine,
  tag: string,
  files: Readonly<Record<string, string>>,
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-image-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await writeFile(path.join(dir, name), content);
    }
    const context = Readable.from(tar.c({ cwd: dir, portable: true }, Object.keys(files)));
    const stream = await engine.buildImage(context, { t: tag, rm: true });
    const output: string[] = [];
    await new Promise<void>((resolve, reject) => {
      engine.modem.followProgress(
        stream,
        (error: Error | null, events: { error?: string }[]) => {
          const failed = error?.message ?? events.find((event) => event.error)?.error;
          if (failed) reject(new Error(`${failed}\n${output.slice(-10).join('')}`));
          else resolve();
        },
        (event: { stream?: string }) => {
          if (event.stream) output.push(event.stream);
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Removes what a test's apps left on the shared engine: their containers (whatever Berth made
 * them, forced) and then every image of `berth/<app>`, unforced. A forced image removal would
 * also delete the cached untagged steps another test's build is running on at that moment,
 * with its build container (the build then fails with "identifier is not a container").
 */
export async function removeTestApps(engine: Engine, apps: readonly string[]): Promise<void> {
  for (const app of apps) {
    const containers = await engine.listContainers({
      all: true,
      filters: { label: [`${ContainerLabels.app}=${app}`] },
    });
    for (const info of containers) {
      await engine
        .getContainer(info.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await removeAppImages(engine, app);
  }
}
