import { BuildFailure, BuildFailureReasons } from '../builder/index.js';

/** Podman's `STEP 1/3: FROM x` and Docker's `Step 1/3 : FROM x`. */
const FROM_STEP = /^step \d+\/\d+ ?: ?FROM\s+(?:--platform=\S+\s+)?(\S+)/i;

/** How engines say that pulling an image failed (Podman/buildah, then Docker). */
const PULL_FAILED = [
  /initializing source docker:\/\/(\S+?):\s/,
  /pull access denied for ([^\s,]+)/,
  /manifest for (\S+) not found/,
  /creating build container:/,
];

/** Output lines of an engine that say nothing to a person (Podman's unformatted Go). */
const NOISE = /%!q\(<nil>\)/;

/** Whether a build output line is worth showing in a failure's tail. */
export function isTellingLine(line: string): boolean {
  return !NOISE.test(line);
}

/** Why a pull failed, in a few words, from the engine's text. */
function pullCause(error: string): { unreachable: boolean; cause: string } {
  const lookup = /lookup (\S+?)(?: on \S+)?: no such host/.exec(error);
  if (lookup) return { unreachable: true, cause: `${lookup[1]} does not resolve` };
  const refused = /dial tcp (\S+): connect: connection refused/.exec(error);
  if (refused) return { unreachable: true, cause: `${refused[1]} refused the connection` };
  if (/i\/o timeout|network is unreachable|TLS handshake timeout|no route to host/.test(error)) {
    return { unreachable: true, cause: 'the connection timed out or the network is unreachable' };
  }
  if (/unauthorized|authentication required|denied/i.test(error)) {
    return { unreachable: false, cause: 'the registry refused access to it' };
  }
  if (/manifest unknown|not found|name unknown|does not exist/i.test(error)) {
    return { unreachable: false, cause: 'the registry has no such image' };
  }
  return { unreachable: false, cause: error.slice(0, 200) };
}

/**
 * The failure an engine's build error becomes: a base image that is not on the engine and
 * could not be pulled is named, with why and what to do; any other error is the engine's
 * own words. `lines` are the build's last output lines, the failing step's among them.
 */
export function imageBuildFailure(error: string, lines: readonly string[]): BuildFailure {
  const pulled = PULL_FAILED.map((pattern) => pattern.exec(error)).find((m) => m !== null);
  const tail = lines.filter(isTellingLine);
  if (pulled) {
    const fromStep = [...lines].reverse().find((line) => FROM_STEP.test(line));
    const image =
      pulled[1] ?? (fromStep ? FROM_STEP.exec(fromStep)?.[1] : undefined) ?? 'a base image';
    const { unreachable, cause } = pullCause(error);
    const why = unreachable ? `no registry is reachable from the engine (${cause})` : cause;
    return new BuildFailure(
      BuildFailureReasons.IMAGE_BUILD_FAILED,
      `the base image ${image} is not on the container engine and could not be pulled: ${why}. ` +
        "Build it on this machine ('berth stacks build' makes Berth's node and python images), " +
        'push it to a registry the engine can reach (a local one will do), or use an image ' +
        "the engine has ('podman images', 'docker images')",
      tail,
      // A registry that did not answer may answer next time; one that refused will not.
      { retryable: unreachable },
    );
  }
  return new BuildFailure(
    BuildFailureReasons.IMAGE_BUILD_FAILED,
    `the image build failed: ${error}`,
    tail,
  );
}
