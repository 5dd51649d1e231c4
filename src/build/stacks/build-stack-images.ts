import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { engineErrorStatus, type Engine } from '../../engine/index.js';
import { debootstrap } from './debootstrap.js';
import { findDebianMirror } from './debian-mirror.js';
import { importRootfs, type ImportRoute } from './import-rootfs.js';
import { findNodeRuntime, installNodeRuntime, type NodeRuntime } from './node-runtime.js';
import { makeScratchDir } from './scratch-dir.js';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';
import {
  ADDON_IMAGE_LAYOUT,
  DEBIAN_SUITE,
  STACK_IMAGES,
  STACK_NAMES,
  STACK_PACKAGES,
  STACK_PATH,
  type StackName,
} from './stack-images.js';
import { runInRoot } from './verify-rootfs.js';

/** What to build and where. Everything but `engine` has a default. */
export interface BuildStackImagesOptions {
  readonly engine: Engine;
  /** The stacks to build (default all, STACK_NAMES). */
  readonly only?: readonly StackName[];
  /** Rebuild images already in the engine (default: skip them). */
  readonly force?: boolean;
  /** A Debian mirror URL (default: the one in this machine's apt sources). */
  readonly mirror?: string;
  /** Image names per stack (default STACK_IMAGES); tests build under names of their own. */
  readonly images?: Partial<Readonly<Record<StackName, string>>>;
  /** The debootstrap command (default `debootstrap` on PATH). */
  readonly debootstrap?: string;
  /** Where scratch root filesystems go (default os.tmpdir()). */
  readonly tmpDir?: string;
  readonly signal?: AbortSignal;
  /** Told when an image starts building (the CLI prints it; a build takes a minute). */
  readonly onStart?: (stack: StackName, image: string) => void;
}

/** What happened to one image. */
export interface StackImageResult {
  readonly stack: StackName;
  readonly image: string;
  readonly status: 'built' | 'skipped';
  /** Wall time of this image's build (near zero when skipped). */
  readonly seconds: number;
  /** The image's size as the engine reports it. */
  readonly sizeBytes: number;
  /** How it was imported; absent when skipped. */
  readonly route?: ImportRoute;
}

async function inspectImage(
  engine: Engine,
  image: string,
): Promise<{ id: string; size: number } | undefined> {
  try {
    const { Id, Size } = await engine.getImage(image).inspect();
    return { id: Id, size: Size };
  } catch (error) {
    if (engineErrorStatus(error) === 404) return undefined;
    throw error;
  }
}

/** Downloaded .debs stay in the root filesystem after debootstrap; an image needs none. */
async function dropPackageCache(root: string): Promise<void> {
  const archives = path.join(root, 'var', 'cache', 'apt', 'archives');
  const names = await readdir(archives).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.endsWith('.deb')).map((n) => rm(path.join(archives, n), { force: true })),
  );
}

/**
 * A database server's root, laid out as the official image's: Debian's package made a cluster
 * of its own (postgresql-common) that an image must not carry; the data directory is empty and
 * belongs to the server's user, so that a new volume mounted there starts out so too.
 */
async function prepareServerRoot(
  root: string,
  stack: 'postgres' | 'redis',
  image: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const layout = ADDON_IMAGE_LAYOUT[stack];
  if (stack === 'postgres') {
    await rm(path.join(root, 'var', 'lib', 'postgresql', '15'), { recursive: true, force: true });
    await rm(path.join(root, 'etc', 'postgresql', '15'), { recursive: true, force: true });
    await runInRoot(root, [`${layout.path}/postgres`, '--version'], image, signal);
  } else {
    await runInRoot(root, ['redis-server', '--version'], image, signal);
  }
  await runInRoot(
    root,
    ['install', '-d', '-m', '0700', '-o', layout.user, '-g', layout.user, layout.dataDir],
    image,
    signal,
  );
}

interface BuildOne {
  readonly stack: StackName;
  readonly image: string;
  readonly mirror: string;
  readonly node: NodeRuntime | undefined;
  readonly options: BuildStackImagesOptions;
}

async function buildOne({ stack, image, mirror, node, options }: BuildOne): Promise<ImportRoute> {
  const scratch = await makeScratchDir(`berth-stack-${stack}-`, options.tmpDir);
  try {
    const root = path.join(scratch.dir, 'rootfs');
    await debootstrap({
      suite: DEBIAN_SUITE,
      packages: STACK_PACKAGES[stack],
      target: root,
      mirror,
      image,
      ...(options.debootstrap ? { command: options.debootstrap } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await dropPackageCache(root);
    const labels = [`LABEL io.berth.stack=${stack}`];
    if (stack === 'node' && node) {
      await installNodeRuntime(root, node);
      const version = await runInRoot(root, ['node', '-v'], image, options.signal);
      if (version !== node.version) {
        throw new StackBuildError(
          StackBuildFailureReasons.VERIFY_FAILED,
          `node -v inside ${image} says '${version}', the controller runs ${node.version}`,
          { image },
        );
      }
      await runInRoot(root, ['npm', '-v'], image, options.signal);
      labels.push(`LABEL io.berth.node-version=${node.version}`);
    } else if (stack === 'python') {
      await runInRoot(root, ['python3', '-c', 'import venv, ensurepip'], image, options.signal);
    }
    let searchPath = STACK_PATH;
    if (stack === 'postgres' || stack === 'redis') {
      const layout = ADDON_IMAGE_LAYOUT[stack];
      await prepareServerRoot(root, stack, image, options.signal);
      if (layout.path) searchPath = `${layout.path}:${STACK_PATH}`;
      labels.push(`USER ${layout.user}`, `EXPOSE ${layout.port}`);
    }
    return await importRootfs({
      engine: options.engine,
      root,
      image,
      changes: [`ENV PATH=${searchPath}`, ...labels],
    });
  } finally {
    await scratch.remove();
  }
}

/**
 * Builds Berth's stack base images from Debian packages (no registry is needed) and imports them
 * into the engine, all in parallel. An image already in the engine is skipped unless `force`.
 * When any image fails, the others still finish, then the failure is thrown (StackBuildError).
 */
export async function buildStackImages(
  options: BuildStackImagesOptions,
): Promise<StackImageResult[]> {
  const { engine } = options;
  const stacks = STACK_NAMES.filter((s) => !options.only || options.only.includes(s));
  const plan = await Promise.all(
    stacks.map(async (stack) => {
      const image = options.images?.[stack] ?? STACK_IMAGES[stack];
      const present = await inspectImage(engine, image);
      return { stack, image, present, skip: present !== undefined && !options.force };
    }),
  );
  const toBuild = plan.filter((p) => !p.skip);
  let mirror = '';
  let node: NodeRuntime | undefined;
  if (toBuild.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new StackBuildError(
        StackBuildFailureReasons.NOT_ROOT,
        `building stack images needs root (debootstrap creates device nodes and chroots); ` +
          `run as root, or with sudo`,
      );
    }
    mirror = options.mirror ?? (await findDebianMirror(DEBIAN_SUITE));
    if (toBuild.some((p) => p.stack === 'node')) node = await findNodeRuntime();
  }
  const settled = await Promise.allSettled(
    plan.map(async ({ stack, image, present, skip }): Promise<StackImageResult> => {
      const started = performance.now();
      const seconds = () => Math.round((performance.now() - started) / 100) / 10;
      if (skip && present) {
        return { stack, image, status: 'skipped', seconds: 0, sizeBytes: present.size };
      }
      options.onStart?.(stack, image);
      const route = await buildOne({ stack, image, mirror, node, options });
      const built = await inspectImage(engine, image);
      // A forced rebuild moves the name; the old image would stay as an untagged <none>. One
      // that a container still uses is refused by the engine and stays: that is fine.
      if (present && built && present.id !== built.id) {
        await engine
          .getImage(present.id)
          .remove()
          .catch(() => undefined);
      }
      const sizeBytes = built?.size ?? 0;
      return { stack, image, status: 'built', seconds: seconds(), sizeBytes, route };
    }),
  );
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  const [first] = failures;
  if (failures.length === 1) throw first;
  if (failures.length > 1) {
    const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    throw new StackBuildError(
      first instanceof StackBuildError ? first.reason : StackBuildFailureReasons.IMPORT_FAILED,
      `${failures.length} stack images failed:\n${messages.join('\n')}`,
      { cause: new AggregateError(failures) },
    );
  }
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}
