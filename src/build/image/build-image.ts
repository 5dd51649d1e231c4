import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { engineErrorStatus, type Engine } from '../../engine/index.js';
import {
  BuildFailure,
  BuildFailureReasons,
  LastLines,
  LineSplitter,
  MAX_LINE_LENGTH,
  type BuildNetwork,
} from '../builder/index.js';
import { Stacks, type Stack } from '../project/index.js';
import type { BaseImages } from './base-images.js';
import { buildContext, ensureDockerignore } from './build-context.js';
import { imageBuildFailure } from './build-errors.js';
import { ignoreBerthFolder, writeImageBuildNetwork } from './build-network-context.js';
import { generateDockerfile, type DockerfileNetwork } from './dockerfile.js';
import { removeImage } from './image-refs.js';

/** Where a generated Dockerfile is written, relative to the build directory. */
export const GENERATED_DOCKERFILE = '.berth/Dockerfile';

/** An image build's default time limit: a cold `npm ci` of a large app takes minutes. */
export const DEFAULT_IMAGE_BUILD_TIMEOUT_MS = 15 * 60_000;

/**
 * One JSON message of the engine's build stream can hold a whole step's output; a message
 * larger than this is dropped instead of growing memory without bound.
 */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Podman's `STEP 2/5: COPY …` and Docker's classic `Step 2/5 : COPY …`. */
const STEP_LINE = /^step \d+\/\d+ ?:/i;
/** Podman's `--> Using cache <id>` and Docker's ` ---> Using cache`. */
const CACHE_LINE = /^-{2,3}> Using cache\b/;

/** What buildImage needs; the directory is Berth's own copy of the source, safe to write in. */
export interface BuildImageOptions {
  readonly engine: Engine;
  readonly dir: string;
  readonly stack: Stack;
  /** The image name to build, e.g. `berth/shop:v3`. */
  readonly tag: string;
  readonly baseImages: BaseImages;
  /** Default DEFAULT_IMAGE_BUILD_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Receives every non-empty output line of the build, trimmed. */
  readonly log?: (line: string) => void;
  /**
   * How the host reaches registries: proxies become build args; a generated Dockerfile's
   * fetching steps mount the CA bundle, npm's and pip's configs and registry variables; an
   * app's own Dockerfile finds the CA bundle at `.berth/build-network/ca-certificates.crt`.
   */
  readonly network?: BuildNetwork;
}

/** A built, tagged image. */
export interface BuiltImage {
  readonly tag: string;
  /** `sha256:…`, as the engine names it. */
  readonly imageId: string;
  readonly sizeBytes: number;
  /** Dockerfile instructions the engine ran or took from its cache. */
  readonly steps: number;
  /** Of those, the ones the engine took from its layer cache. */
  readonly cachedSteps: number;
  /** The image's USER ('' when it declares none), which its containers run as. */
  readonly user: string;
  /** True when that user is root (no USER, or USER root or 0): allowed, and warned about. */
  readonly runsAsRoot: boolean;
}

/** The warning a build logs for an image whose processes would run as root. */
export const ROOT_USER_WARNING =
  'warning: the image runs as root; add a USER line with a non-root user to its Dockerfile';

/**
 * Whether an image's Config.User is root. A name other than root is taken at its word: the
 * image's /etc/passwd could map it to uid 0, which only running the image would tell.
 */
export function isRootUser(user: string): boolean {
  const name = user.trim().split(':')[0] ?? '';
  return name === '' || name === 'root' || /^0+$/.test(name);
}

/**
 * Builds `dir` into the image `tag` through the engine's build API: with the app's own
 * Dockerfile, or with one generated for its stack (written to `.berth/Dockerfile`). Rejects
 * with BuildFailure: IMAGE_BUILD_FAILED with the last output lines when a step fails,
 * TIMED_OUT or ABORTED when the limit or the signal stopped it, which closes the request, and
 * the engine then stops the build. A failed build never leaves `tag` naming its image. An
 * image that runs as root (an app's own Dockerfile without USER) builds, with a warning line.
 */
export async function buildImage(options: BuildImageOptions): Promise<BuiltImage> {
  const { engine, dir, stack, tag } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_IMAGE_BUILD_TIMEOUT_MS;
  if (stack === Stacks.static) {
    throw new BuildFailure(
      BuildFailureReasons.UNSUPPORTED_STACK,
      'a static site is served by the router and has no image to build',
    );
  }
  const network = await writeImageBuildNetwork(dir, options.network, stack !== Stacks.dockerfile);
  const dockerfile = await writeDockerfile(
    dir,
    stack,
    options.baseImages,
    network.folder === undefined ? undefined : { source: network.folder },
  );

  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new TimedOut()), timeoutMs);
  const onAbort = (): void => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const progress = new BuildProgress(options.log ?? (() => undefined));
  let context: Readable | undefined;
  try {
    context = await buildContext(dir, dockerfile, network.folder ? [network.folder] : []);
    stop.signal.throwIfAborted();
    const response = await engine.buildImage(context, {
      t: tag,
      dockerfile,
      rm: true,
      forcerm: true,
      // Podman (4.3, measured) and Docker's classic builder both keep and reuse layers by
      // default; nocache is spelled out so that no engine default turns the cache off.
      nocache: false,
      ...(Object.keys(network.buildArgs).length > 0 ? { buildargs: network.buildArgs } : {}),
      abortSignal: stop.signal,
    });
    await progress.consume(response);
    const image = await engine.getImage(tag).inspect();
    if (progress.imageId !== undefined && progress.imageId !== image.Id) {
      throw new BuildFailure(
        BuildFailureReasons.IMAGE_BUILD_FAILED,
        `the engine built ${progress.imageId} but ${tag} names ${image.Id}`,
        progress.lastLines,
      );
    }
    const user = image.Config.User ?? '';
    const runsAsRoot = isRootUser(user);
    if (runsAsRoot) options.log?.(ROOT_USER_WARNING);
    return Object.freeze({
      tag,
      imageId: image.Id,
      sizeBytes: image.Size,
      steps: progress.steps,
      cachedSteps: progress.cachedSteps,
      user,
      runsAsRoot,
    });
  } catch (error) {
    throw await failureOf(error, { engine, tag, timeoutMs, stop: stop.signal, progress });
  } finally {
    context?.destroy();
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The Dockerfile path inside the context: the app's own, or a generated one written now. */
async function writeDockerfile(
  dir: string,
  stack: Stack,
  baseImages: BaseImages,
  network: DockerfileNetwork | undefined,
): Promise<string> {
  const generated = await generateDockerfile(dir, stack, baseImages, network);
  if (generated === undefined) return 'Dockerfile';
  await mkdir(join(dir, '.berth'), { recursive: true });
  await writeFile(join(dir, GENERATED_DOCKERFILE), generated);
  await ensureDockerignore(dir);
  // The settings folder (a registry token) must never be copied into the image.
  if (network) await ignoreBerthFolder(dir);
  return GENERATED_DOCKERFILE;
}

class TimedOut extends Error {}

interface FailureContext {
  readonly engine: Engine;
  readonly tag: string;
  readonly timeoutMs: number;
  readonly stop: AbortSignal;
  readonly progress: BuildProgress;
}

/** The BuildFailure a build's error becomes; a stopped build also loses the tag, if it got it. */
async function failureOf(error: unknown, context: FailureContext): Promise<unknown> {
  const { stop, progress } = context;
  if (stop.aborted) {
    // Measured on Podman 4.3: closing the request stops the build before it tags anything.
    // Were an engine to finish anyway, the tag would name an image nobody waited for.
    if (progress.imageId !== undefined) await removeImage(context.engine, context.tag);
    return stop.reason instanceof TimedOut
      ? new BuildFailure(
          BuildFailureReasons.TIMED_OUT,
          `the image build ran longer than ${context.timeoutMs / 1000} s and was stopped`,
          progress.lastLines,
        )
      : new BuildFailure(
          BuildFailureReasons.ABORTED,
          'the image build was stopped before it finished',
          progress.lastLines,
        );
  }
  if (error instanceof BuildFailure) return error;
  // The engine answered with an error status (a bad request, a server error): the build is
  // what failed. Anything else (no engine at the socket) is passed on as it is.
  const status = engineErrorStatus(error);
  if (status !== undefined) {
    const message = (error as Error).message;
    return new BuildFailure(
      BuildFailureReasons.IMAGE_BUILD_FAILED,
      `the container engine refused the image build (${status}): ${message}`,
      progress.lastLines,
    );
  }
  return error;
}

/** One message of the build stream (Docker Engine API `/build`). */
interface BuildMessage {
  readonly stream?: unknown;
  readonly status?: unknown;
  readonly error?: unknown;
  readonly errorDetail?: { readonly message?: unknown };
  readonly aux?: { readonly ID?: unknown };
}

/** Reads the engine's JSON-lines build stream: output lines, steps, the cache, the image. */
class BuildProgress {
  readonly #log: (line: string) => void;
  readonly #last = new LastLines();
  readonly #lines: LineSplitter;
  steps = 0;
  cachedSteps = 0;
  imageId: string | undefined;
  #error: string | undefined;

  constructor(log: (line: string) => void) {
    this.#log = log;
    this.#lines = new LineSplitter((raw) => this.#line(raw));
  }

  get lastLines(): readonly string[] {
    return this.#last.lines;
  }

  /** Resolves when the stream ended with success; throws BuildFailure on an error message. */
  async consume(response: NodeJS.ReadableStream): Promise<void> {
    let pending = '';
    let dropping = false;
    for await (const chunk of response) {
      const text = pending + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      const parts = text.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        if (dropping) dropping = false;
        else this.#message(part);
      }
      if (pending.length > MAX_MESSAGE_BYTES) {
        pending = '';
        dropping = true;
      }
    }
    if (!dropping) this.#message(pending);
    this.#lines.end();
    if (this.#error !== undefined) throw imageBuildFailure(this.#error, this.lastLines);
  }

  #message(json: string): void {
    if (json.trim() === '') return;
    let message: BuildMessage;
    try {
      message = JSON.parse(json) as BuildMessage;
    } catch {
      this.#lines.write(Buffer.from(`${json}\n`));
      return;
    }
    if (typeof message.stream === 'string') this.#lines.write(Buffer.from(message.stream));
    else if (typeof message.status === 'string')
      this.#lines.write(Buffer.from(`${message.status}\n`));
    if (typeof message.aux?.ID === 'string') this.imageId = message.aux.ID;
    const error = message.errorDetail?.message ?? message.error;
    if (typeof error === 'string' && error.trim() !== '') {
      this.#error = error.trim().slice(0, MAX_LINE_LENGTH);
      // Logged, but not kept among the last lines: the failure's message says it already.
      this.#log(`error: ${this.#error}`);
    }
  }

  #line(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    if (STEP_LINE.test(line)) this.steps += 1;
    else if (CACHE_LINE.test(line)) this.cachedSteps += 1;
    this.#last.push(line);
    this.#log(line);
  }
}
