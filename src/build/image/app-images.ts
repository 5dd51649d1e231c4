import { engineErrorStatus, type Engine } from '../../engine/index.js';
import { appImageRepository } from './image-refs.js';

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

/**
 * Removes every tag of the app's repository `berth/<app>`: its release images (`:v<N>`) and
 * its build images (`:src-<artifact>`). An image goes with its last name, and with it the
 * layers no other image shares (the app's code and dependencies); base layers stay. Run after
 * the app's containers are gone: a tag whose image a container still uses (one of another
 * Berth's on the same engine) is left, and the call rejects naming it once every other tag is
 * removed. Removing the images of an app that has none is not an error.
 */
export async function removeAppImages(engine: Engine, appName: string): Promise<void> {
  const repository = appImageRepository(appName);
  const listed = await engine.listImages({ filters: { reference: [repository] } });
  const inUse: string[] = [];
  for (const image of listed) {
    // The filter matches by name pattern; only this repository's own tags are the app's.
    const tags = (image.RepoTags ?? []).filter((tag) =>
      withoutRegistry(tag).startsWith(`${repository}:`),
    );
    for (const tag of tags) {
      try {
        await engine.getImage(tag).remove();
      } catch (error) {
        const status = engineErrorStatus(error);
        if (status === 404) continue;
        if (status === 409) inUse.push(tag);
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
