import { runTool } from './run-tool.js';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';
import { STACK_PATH } from './stack-images.js';

/**
 * Runs `command` inside `root` with chroot and returns its trimmed stdout; a failure throws
 * VERIFY_FAILED. Checked before import so that a broken root filesystem never becomes an image.
 */
export async function runInRoot(
  root: string,
  command: readonly string[],
  image: string,
  signal?: AbortSignal,
): Promise<string> {
  const result = await runTool('chroot', [root, ...command], {
    debianPackage: 'coreutils',
    env: { PATH: STACK_PATH, HOME: '/root', LANG: 'C.UTF-8' },
    ...(signal ? { signal } : {}),
  });
  if (result.code !== 0) {
    throw new StackBuildError(
      StackBuildFailureReasons.VERIFY_FAILED,
      `'${command.join(' ')}' fails inside ${image}:\n  ${result.lastLines.join('\n  ')}`,
      { image, lastLines: result.lastLines },
    );
  }
  return result.stdout.trim();
}
