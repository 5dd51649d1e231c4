import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LAST_LINES, runTool } from './run-tool.js';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';

/** What one debootstrap run makes. */
export interface DebootstrapOptions {
  readonly suite: string;
  readonly packages: readonly string[];
  /** An empty directory that becomes the root filesystem. */
  readonly target: string;
  readonly mirror: string;
  /** The debootstrap command (default `debootstrap` on PATH). */
  readonly command?: string;
  /** Which image this is for, for the error message. */
  readonly image: string;
  readonly signal?: AbortSignal;
}

/**
 * `debootstrap --variant=minbase --include=PKGS SUITE TARGET MIRROR`. A failure throws
 * DEBOOTSTRAP_FAILED with the last lines of its output and of TARGET/debootstrap/debootstrap.log
 * (where it writes what wget or dpkg said), because its own output rarely says why.
 */
export async function debootstrap(options: DebootstrapOptions): Promise<void> {
  const command = options.command ?? 'debootstrap';
  const args = [
    '--variant=minbase',
    `--include=${options.packages.join(',')}`,
    options.suite,
    options.target,
    options.mirror,
  ];
  const result = await runTool(command, args, {
    debianPackage: 'debootstrap',
    // debootstrap's dpkg runs maintainer scripts that ask questions without this.
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.code === 0) return;
  const log = await readFile(path.join(options.target, 'debootstrap', 'debootstrap.log'), 'utf8')
    .then((text) => text.split('\n').filter((line) => line.trim()))
    .catch(() => [] as string[]);
  const lastLines = [...result.lastLines, ...log.slice(-LAST_LINES)];
  const ended = result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`;
  throw new StackBuildError(
    StackBuildFailureReasons.DEBOOTSTRAP_FAILED,
    `debootstrap of ${options.image} from ${options.mirror} ${ended}:\n  ` +
      (lastLines.length > 0 ? lastLines.join('\n  ') : '(no output)'),
    { image: options.image, lastLines },
  );
}
