import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { engineErrorStatus, imageExists, type Engine } from '../../engine/index.js';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';

/** How the image got into the engine. */
export type ImportRoute = 'engine-api' | 'podman-cli';

/** What to import and how the image is configured. */
export interface ImportRootfsOptions {
  readonly engine: Engine;
  readonly root: string;
  /** `repo:tag`. */
  readonly image: string;
  /** Dockerfile instructions applied at import (`ENV PATH=...`, `LABEL k=v`). */
  readonly changes: readonly string[];
}

/**
 * `tar -C ROOT -c .` as a stream. Numeric owners: the image's /etc/passwd is not the host's, so
 * names must not be mapped through the host's users.
 */
function tarOf(root: string): ChildProcessByStdio<null, Readable, Readable> {
  return spawn('tar', ['-C', root, '--numeric-owner', '-c', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves when the tar process ends; rejects when it failed (a short stream is no image). */
function tarEnded(tar: ChildProcessByStdio<null, Readable, Readable>): Promise<void> {
  let stderr = '';
  tar.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

function followImport(engine: Engine, stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    engine.modem.followProgress(stream, (error: Error | null, events: unknown[]) => {
      if (error) return reject(error);
      // Docker and Podman both end with {"status": "sha256:<id>"}.
      const last = events.at(-1) as { status?: unknown } | undefined;
      resolve(typeof last?.status === 'string' ? last.status : undefined);
    });
  });
}

/**
 * POST /images/create?fromSrc=-&repo=REPO:TAG&changes=... with the tar as body. The tag rides in
 * `repo` because Podman 4.3.1's compat API ignores the separate `tag` parameter (the image came
 * out as `:latest`); Docker documents that `repo` may include a tag.
 */
async function importWithApi(options: ImportRootfsOptions): Promise<void> {
  const { engine, image } = options;
  const tar = tarOf(options.root);
  const ended = tarEnded(tar);
  let id: string | undefined;
  try {
    const response = await engine.importImage(tar.stdout, {
      repo: image,
      changes: [...options.changes],
    });
    id = await followImport(engine, response);
  } catch (error) {
    tar.kill();
    await ended.catch(() => undefined);
    throw error;
  }
  try {
    await ended;
  } catch (error) {
    if (id)
      await engine
        .getImage(id)
        .remove({ force: true })
        .catch(() => undefined);
    throw error;
  }
  if (!(await imageExists(engine, image)) && id) {
    const colon = image.lastIndexOf(':');
    await engine.getImage(id).tag({ repo: image.slice(0, colon), tag: image.slice(colon + 1) });
  }
}

async function onPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, command);
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/** `tar -C ROOT -c . | podman import --change ... - IMAGE`, piped in Node, no shell. */
async function importWithPodman(podman: string, options: ImportRootfsOptions): Promise<void> {
  const tar = tarOf(options.root);
  const ended = tarEnded(tar);
  const args = ['import', ...options.changes.flatMap((c) => ['--change', c]), '-', options.image];
  const child = spawn(podman, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  tar.stdout.pipe(child.stdin);
  const imported = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`podman import exited with ${code}: ${stderr}`)),
    );
  });
  await Promise.all([ended, imported]);
}

/**
 * Imports a root filesystem as an image. The engine API is the route: it worked on Podman
 * 4.3.1's compat service here (ENV and LABEL changes applied). Only if the engine refuses it
 * with an HTTP error and a `podman` CLI is on PATH does this fall back to `podman import`.
 */
export async function importRootfs(options: ImportRootfsOptions): Promise<ImportRoute> {
  try {
    await importWithApi(options);
    return 'engine-api';
  } catch (apiError) {
    const status = engineErrorStatus(apiError);
    const podman = status === undefined ? undefined : await onPath('podman');
    if (podman) {
      try {
        await importWithPodman(podman, options);
        if (await imageExists(options.engine, options.image)) return 'podman-cli';
      } catch {
        // The API's error says more about the engine than the CLI's: report that one.
      }
    }
    throw new StackBuildError(
      StackBuildFailureReasons.IMPORT_FAILED,
      `the engine did not import ${options.image}: ${(apiError as Error).message}`,
      { image: options.image, cause: apiError },
    );
  }
}
