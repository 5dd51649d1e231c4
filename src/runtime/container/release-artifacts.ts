import {
  buildImage,
  buildImageTag,
  formatBytes,
  imageExists,
  listAppImages,
  releaseImageTag,
  removeImage,
  resolveBaseImages,
  resolveCommand,
  Stacks,
  tagImage,
  type SlugStore,
} from '../../build/index.js';
import { runsUnits } from '../../domain/releases/index.js';
import type { Engine } from '../../engine/index.js';
import type { BuildRequest, ReleaseBuilder, UnitArtifacts } from '../profile.js';

/**
 * Container runtimes': each release runs the image `berth/<app>:v<N>`, tagged from the image
 * its artifact built the first time the release rolls out. A rollback or a config change is a
 * new tag of an image that exists: nothing rebuilds. The image's own environment (PATH) stays.
 */
export function imageArtifacts(engine: Engine, options: { keep?: number } = {}): UnitArtifacts {
  const keep = options.keep ?? 5;
  const builtTag = ({
    appName,
    release,
  }: {
    appName: string;
    release: { artifactId: string | null };
  }) => buildImageTag(appName, release.artifactId ?? '');
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
      const images = await listAppImages(engine, appName);
      const kept = images.filter((image) => image.versions.length > 0);
      return {
        images: kept.reduce((count, image) => count + image.versions.length, 0),
        bytes: images.reduce((sum, image) => sum + image.size, 0),
      };
    },
  };
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
  const images = await listAppImages(engine, appName);
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

/**
 * Builds images on the engine from the build context kept in `builds` (the app's Dockerfile
 * or a generated one), tagged `berth/<app>:src-<artifact>` until a release names it. A static
 * site has no image: the router serves its build context.
 */
export function imageBuilder(engine: Engine, builds: SlugStore): ReleaseBuilder {
  return {
    builds,
    async isBuilt(app, artifactId, stack) {
      if (!(await builds.isBuilt(app.id, artifactId))) return false;
      return stack === Stacks.static || imageExists(engine, buildImageTag(app.name, artifactId));
    },
    async build(request: BuildRequest) {
      const { app, artifactId } = request;
      const dir = await builds.prepare(app.id, artifactId, request.sourceDir);
      try {
        let result: object;
        if (request.stack === Stacks.static) {
          request.log('a static site: the router serves it, no image to build');
          result = { static: true };
        } else {
          const image = await buildImage({
            engine,
            dir,
            stack: request.stack,
            tag: buildImageTag(app.name, artifactId),
            baseImages: await resolveBaseImages(engine),
            timeoutMs: request.timeoutMs,
            signal: request.signal,
            log: request.log,
            ...(request.network ? { network: request.network } : {}),
          });
          request.log(
            `image ${image.tag} (${image.imageId.slice(0, 19)}, ${formatBytes(image.sizeBytes)}; ` +
              `${image.cachedSteps} of ${image.steps} steps from the layer cache)`,
          );
          result = { image };
        }
        await builds.markBuilt(app.id, artifactId, { builtAt: new Date().toISOString(), result });
      } catch (error) {
        await builds.discard(app.id, artifactId);
        throw error;
      }
    },
  };
}
