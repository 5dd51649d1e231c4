import { engineErrorStatus, type Engine } from '../../engine/index.js';
import { appImageRepository, removeImage } from './image-refs.js';

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

/** One image of an app's repository, with the names it has there. */
export interface AppImage {
  readonly id: string;
  readonly size: number;
  /** The release versions its `:v<N>` tags name. */
  readonly versions: readonly number[];
  /** Every name of the image in the app's repository (v tags and src tags). */
  readonly tags: readonly string[];
}

/** The images of the app's repository `berth/<app>` in the engine. */
export async function listAppImages(engine: Engine, appName: string): Promise<AppImage[]> {
  const repository = appImageRepository(appName);
  const listed = await engine.listImages({ filters: { reference: [repository] } });
  return listed.map((image) => {
    // The filter matches by name pattern; only this repository's own tags are the app's.
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
 * Removes every tag of the app's repository `berth/<app>`: its release images (`:v<N>`) and
 * its build images (`:src-<artifact>`). An image goes with its last name, and with it the
 * layers no other image shares (the app's code and dependencies); base layers stay. Run after
 * the app's containers are gone: a tag whose image a container still uses (one of another
 * Berth's on the same engine) is left, and the call rejects naming it once every other tag is
 * removed. Removing the images of an app that has none is not an error.
 */
export async function removeAppImages(engine: Engine, appName: string): Promise<void> {
  const inUse: string[] = [];
  for (const image of await listAppImages(engine, appName)) {
    for (const tag of image.tags) {
      try {
        await removeImage(engine, tag);
      } catch (error) {
        if (engineErrorStatus(error) === 409) inUse.push(tag);
        else throw error;
      }
    }
  }
  if (inUse.length > 0) {
    throw new Error(
      `images of ${appName} still used by a container were kept: ${inUse.join(', ')}`,
    );
  }
}
