import {
  appImageRepository,
  imageExists,
  removeImage,
  resolveCommand,
  runtimeEnv,
  tagImage,
  type Stack,
} from '../../build/index.js';
import type { Engine } from '../../engine/index.js';
import { runsUnits, type ProcessCommand, type Release } from '../../domain/releases/index.js';
import type { AppAccount, UnitArtifact, UnitCommand } from '../../runtime/index.js';

/** What the runner needs of a release to start its units, whatever the runtime. */
export interface ReleaseOnRuntime {
  readonly appName: string;
  /** Whom the app's processes run as, where the runtime isolates apps by user. */
  readonly account: AppAccount;
  readonly release: Release;
  /** The release's build directory: the slug, or the image's build context. */
  readonly slugDir: string;
}

/**
 * How releases become units on one kind of runtime: what a unit runs from, its command, and
 * the environment beyond the config vars. The process runtime runs slugs in place; container
 * runtimes run the release's image.
 */
export interface UnitArtifacts {
  /** Which kind of artifact the runtime runs. */
  readonly kind: UnitArtifact['kind'];
  /** The artifact of a release; for images, the release's own tag (made on first use). */
  artifactOf(target: ReleaseOnRuntime): Promise<UnitArtifact>;
  /**
   * The command of a process that runs units: `npm start` is resolved to the start script
   * either way; an image's CMD only where the runtime runs images.
   */
  commandOf(target: ReleaseOnRuntime, command: ProcessCommand): Promise<UnitCommand>;
  /** What a unit's environment holds besides its config. */
  baseEnv(target: ReleaseOnRuntime): Record<string, string>;
  /** Whether a release's build can run here; the runner refuses the rollout when not. */
  problemOf(target: ReleaseOnRuntime): Promise<string | undefined>;
  /** Removes builds of releases older than the newest ones the runtime keeps, up to `current`. */
  prune(appName: string, current: number): Promise<void>;
  /** What the app's builds hold on this machine, where the runtime can tell. */
  diskUsage(appName: string): Promise<DiskUsage | undefined>;
}

/** What an app's builds take on the runtime's machine. */
export interface DiskUsage {
  /** Release images (tags `v<N>`) kept. */
  readonly images: number;
  /**
   * The app's images' sizes added up (an image under several tags counts once); layers they
   * share on disk, such as the stack's base image, count in each.
   */
  readonly bytes: number;
}

/** Hands a slug to the app's user when it is not already its own (see AppSandboxes). */
export interface SlugOwnership {
  claimTree(dir: string, account: AppAccount): Promise<void>;
}

/**
 * The process runtime's: slugs in place, with the build's PATH (node_modules/.bin, venv). With
 * `ownership`, a slug built before apps ran as users of their own (owned by root) becomes the
 * app's before it runs, so that a rollback to it works and no other app can read it.
 */
export function directoryArtifacts(ownership?: SlugOwnership): UnitArtifacts {
  return {
    kind: 'directory',
    async artifactOf({ slugDir, account }) {
      await ownership?.claimTree(slugDir, account);
      return { kind: 'directory', path: slugDir };
    },
    async commandOf({ slugDir }, command) {
      if (command.kind !== 'command')
        throw new Error(`a ${command.kind} process runs no unit here`);
      return { kind: 'shell', line: await resolveCommand(slugDir, command.line) };
    },
    baseEnv: ({ release, slugDir }) =>
      runtimeEnv(slugDir, (release.stack ?? 'unknown') as Stack, process.env['PATH'] ?? ''),
    problemOf({ release }) {
      const imageOnly = Object.entries(release.processes).find(
        ([, command]) => command.kind === 'image',
      );
      return Promise.resolve(
        imageOnly
          ? `${imageOnly[0]}: a Dockerfile app needs the container runtime (berth server --runtime container)`
          : undefined,
      );
    },
    // Slugs are kept per artifact and reused by rollbacks; removing them is left to the owner.
    prune: () => Promise.resolve(),
    diskUsage: () => Promise.resolve(undefined),
  };
}

/** The tag of the image built from an artifact, before any release names it. */
export function buildImageTag(appName: string, artifactId: string): string {
  return `${appImageRepository(appName)}:src-${artifactId.slice(0, 16)}`;
}

/** The immutable tag of a release's image. */
export function releaseImageTag(appName: string, version: number): string {
  return `${appImageRepository(appName)}:v${version}`;
}

/**
 * Container runtimes': each release runs the image `berth/<app>:v<N>`, tagged from the image
 * its artifact built the first time the release rolls out. A rollback or a config change is a
 * new tag of an image that exists: nothing rebuilds. The image's own environment (PATH) stays.
 */
export function imageArtifacts(engine: Engine, options: { keep?: number } = {}): UnitArtifacts {
  const keep = options.keep ?? 5;
  const builtTag = ({ appName, release }: ReleaseOnRuntime) =>
    buildImageTag(appName, release.artifactId ?? '');
  return {
    kind: 'image',
    async artifactOf(target) {
      // Tagged every time, not only when missing: the engine may hold a stale tag of that name
      // (an app of the same name destroyed and created again), and the tag must name this
      // release's build. Tagging the same image again changes nothing.
      const tag = releaseImageTag(target.appName, target.release.version);
      await tagImage(engine, builtTag(target), tag);
      return { kind: 'image', ref: tag };
    },
    async commandOf({ slugDir }, command) {
      if (command.kind === 'image') return { kind: 'image' };
      if (command.kind === 'static') throw new Error('a static site runs no unit');
      return { kind: 'shell', line: await resolveCommand(slugDir, command.line) };
    },
    baseEnv: () => ({}),
    async problemOf(target) {
      if (await imageExists(engine, builtTag(target))) return undefined;
      const needsImage = Object.values(target.release.processes).some(runsUnits);
      return needsImage
        ? `the image of release v${target.release.version} is no longer in the engine (removed by cleanup?); deploy the app again`
        : undefined;
    },
    prune: (appName, current) => pruneImages(engine, appName, current, keep),
    async diskUsage(appName) {
      const images = await appImages(engine, appName);
      const kept = images.filter((image) => image.versions.length > 0);
      return {
        images: kept.reduce((count, image) => count + image.versions.length, 0),
        bytes: images.reduce((sum, image) => sum + image.size, 0),
      };
    },
  };
}

interface AppImage {
  readonly id: string;
  readonly size: number;
  readonly versions: number[];
  /** Every name of the image in the app's repository (v tags and src tags). */
  readonly tags: string[];
}

/**
 * A reference without its registry host: Podman lists `berth/x:v1` as `docker.io/berth/x:v1`
 * (or `localhost/…`), Docker as it was tagged.
 */
function withoutRegistry(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  return first === 'localhost' || first.includes('.') || first.includes(':')
    ? ref.slice(slash + 1)
    : ref;
}

/** The app's images in the engine, with the release versions their tags name. */
async function appImages(engine: Engine, appName: string): Promise<AppImage[]> {
  const repository = appImageRepository(appName);
  const listed = await engine.listImages({ filters: { reference: [repository] } });
  return listed.map((image) => {
    const tags = (image.RepoTags ?? []).filter((tag) =>
      withoutRegistry(tag).startsWith(`${repository}:`),
    );
    const versions = tags
      .map((tag) => /:v(\d+)$/.exec(tag)?.[1])
      .filter((version) => version !== undefined)
      .map(Number);
    return { id: image.Id, size: image.Size, versions, tags };
  });
}

/**
 * Keeps the images of the `keep` newest releases up to `current` (and the build tags they
 * share); removes older release tags and build tags no kept release uses. Tags above `current`
 * are not this app's history (another Berth on the engine, or an app of the same name that was
 * destroyed) and are left alone. A removed tag whose image has another name only loses that
 * name; the engine frees the image with its last name.
 */
async function pruneImages(
  engine: Engine,
  appName: string,
  current: number,
  keep: number,
): Promise<void> {
  const images = await appImages(engine, appName);
  const history = images
    .flatMap((image) => image.versions)
    .filter((version) => version <= current)
    .sort((a, b) => b - a);
  const kept = new Set(history.slice(0, keep));
  const isOld = (version: number) => version <= current && !kept.has(version);
  for (const image of images) {
    const keepImage = image.versions.some((version) => !isOld(version));
    for (const tag of image.tags) {
      const version = /:v(\d+)$/.exec(tag)?.[1];
      const drop =
        version === undefined ? !keepImage && image.versions.length > 0 : isOld(Number(version));
      if (drop) await removeImage(engine, tag).catch(() => undefined);
    }
  }
}
