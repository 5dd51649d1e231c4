import { access, chmod, copyFile, cp, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { StackBuildError, StackBuildFailureReasons } from './stack-build-error.js';

/** The controller's Node and the npm bundled with it, as found on this machine. */
export interface NodeRuntime {
  /** The node binary (process.execPath). */
  readonly node: string;
  /** npm's package directory: `<prefix>/lib/node_modules/npm` next to the binary. */
  readonly npmDir: string;
  /** e.g. 'v20.20.2'. */
  readonly version: string;
}

/** The Node that runs Berth, and its npm; throws TOOL_MISSING when npm is not next to it. */
export async function findNodeRuntime(execPath = process.execPath): Promise<NodeRuntime> {
  const prefix = path.dirname(path.dirname(execPath));
  const npmDir = path.join(prefix, 'lib', 'node_modules', 'npm');
  try {
    await access(path.join(npmDir, 'bin', 'npm-cli.js'));
  } catch (error) {
    throw new StackBuildError(
      StackBuildFailureReasons.TOOL_MISSING,
      `npm is not next to ${execPath} (looked for ${npmDir}/bin/npm-cli.js); the node stack ` +
        `image gets the controller's own Node and npm`,
      { cause: error },
    );
  }
  return { node: execPath, npmDir, version: process.version };
}

/**
 * Copies Node to /usr/local/bin/node and npm to /usr/local/lib/node_modules/npm inside `root`,
 * with npm and npx symlinks in /usr/local/bin, the layout of Node's own release tarballs.
 */
export async function installNodeRuntime(root: string, runtime: NodeRuntime): Promise<void> {
  const bin = path.join(root, 'usr', 'local', 'bin');
  const modules = path.join(root, 'usr', 'local', 'lib', 'node_modules');
  await mkdir(bin, { recursive: true });
  await mkdir(modules, { recursive: true });
  await copyFile(runtime.node, path.join(bin, 'node'));
  await chmod(path.join(bin, 'node'), 0o755);
  // verbatimSymlinks: npm's own links (node_modules/.bin) stay relative inside the image.
  await cp(runtime.npmDir, path.join(modules, 'npm'), {
    recursive: true,
    verbatimSymlinks: true,
    preserveTimestamps: true,
  });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(bin, 'npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(bin, 'npx'));
}
