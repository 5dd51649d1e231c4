import { engineErrorStatus, imageExists, type Engine } from '../../engine/index.js';

export { imageExists } from '../../engine/index.js';

/** App names are DNS-label-like (domain/apps); anything else cannot name a repository. */
const REPOSITORY_COMPONENT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The repository an app's images are tagged in: `berth/<app>`. */
export function appImageRepository(appName: string): string {
  if (!REPOSITORY_COMPONENT.test(appName)) {
    throw new TypeError(`'${appName}' cannot name an image repository`);
  }
  return `berth/${appName}`;
}

/** The tag of the image built from an artifact, before any release names it. */
export function buildImageTag(appName: string, artifactId: string): string {
  return `${appImageRepository(appName)}:src-${artifactId.slice(0, 16)}`;
}

/** The immutable tag of a release's image. */
export function releaseImageTag(appName: string, version: number): string {
  return `${appImageRepository(appName)}:v${version}`;
}

/** Tags the image `from` (a name or id) as `to` (`repo:tag`, or a repo for `latest`). */
export async function tagImage(engine: Engine, from: string, to: string): Promise<void> {
  const { repo, tag } = splitReference(to);
  await engine.getImage(from).tag({ repo, tag });
}

/**
 * Removes one name of an image, or the image when `ref` is its last name or its id; an image
 * that is already gone is not an error. Layers other images share stay.
 *
 * Never forced: a forced removal also deletes the untagged parents the image leaves behind
 * and every container using them, and those parents are the cached steps another app's build
 * may be running on at that moment (its build container goes, and the build fails with
 * "identifier is not a container"). Unforced, Podman still removes the name and the image,
 * then answers 409 for the parent it kept; a 409 after which `ref` is gone is a success.
 * Rejects with the engine's 409 when `ref` itself is still used by a container.
 */
export async function removeImage(engine: Engine, ref: string): Promise<void> {
  try {
    await engine.getImage(ref).remove();
  } catch (error) {
    const status = engineErrorStatus(error);
    if (status === 404) return;
    if (status === 409 && !(await imageExists(engine, ref))) return;
    throw error;
  }
}

/** `host:port/repo:tag` → repo and tag; the colon of a registry port is not a tag. */
function splitReference(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}
