import { join, relative, resolve, sep } from 'node:path';
import type { Stack } from '../project/index.js';
import { BuildFailure, BuildFailureReasons } from './build-failure.js';
import { buildEnv } from './build-env.js';
import {
  BUILD_NETWORK_DIR,
  buildNetworkFileEnv,
  buildNetworkFiles,
  placeBuildNetworkFiles,
} from './build-network-files.js';
import type { BuildNetwork } from './build-network.js';
import { planBuild } from './build-plan.js';
import { runCommand } from './run-command.js';

/** The longest build time limit: what a Node.js timer can wait (about 24 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** What buildSlug needs. */
export interface BuildSlugOptions {
  /** The extracted, checked bundle; built in place, and the release directory afterwards. */
  readonly dir: string;
  readonly stack: Stack;
  /** The limit for the whole build, every command together (1 ms up to about 24 days). */
  readonly timeoutMs: number;
  /** Stops the build (the process group is killed) when the task is cancelled or lost. */
  readonly signal: AbortSignal;
  /** Receives each output line as it comes, and a `$ command` line before each command. */
  readonly log: (line: string) => void;
  /** Variables for the build commands, on top of the minimal environment; these win. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The controller's environment, of which only PATH, HOME, locale, proxy and npm/pip settings
   * are passed on. Defaults to process.env; tests pass their own.
   */
  readonly controllerEnv?: NodeJS.ProcessEnv;
  /**
   * How the host reaches registries (proxies, CAs, npm's and pip's settings): its values go
   * into every command's environment, its files are copied into the slug for the build (as
   * the build's user) and removed after it.
   */
  readonly network?: BuildNetwork;
  /**
   * The app's sandbox, where the runtime keeps apps apart: every command runs through `wrap`
   * (the app's own uid, its control group), with `env` (the app's HOME and TMPDIR) over the
   * rest. Whatever a command leaves running is the jail owner's to end.
   */
  readonly jail?: BuildJail;
}

/** Where a build's commands run; the process runtime's AppSandboxes makes these. */
export interface BuildJail {
  wrap(argv: readonly string[]): [string, ...string[]];
  readonly env: Readonly<Record<string, string>>;
  /** The PATH the jailed commands can use (folders they cannot reach left out). */
  reachablePath(value: string): string;
}

/** One command that ran. */
export interface BuildCommandResult {
  /** 'npm ci', 'npm run build', 'python3 -m venv', 'pip install'. */
  readonly name: string;
  readonly argv: readonly string[];
  readonly durationMs: number;
}

/** A build that succeeded: the commands it ran, in order (none for most static apps). */
export interface BuildResult {
  readonly commands: readonly BuildCommandResult[];
  readonly durationMs: number;
}

/**
 * Turns an extracted bundle into a slug for the process runtime, in place: node modules
 * installed and the build script run, or a python virtual environment in `.venv`. The build
 * runs in the release directory itself because a virtual environment records absolute paths;
 * nothing may move afterwards. Throws BuildFailure (with the failing command's last lines)
 * when a command fails, when the build outlives `timeoutMs`, or when `signal` aborts it.
 */
export async function buildSlug(options: BuildSlugOptions): Promise<BuildResult> {
  if (!(options.timeoutMs > 0 && options.timeoutMs <= MAX_TIMEOUT_MS)) {
    // A caller's bug, not the bundle's: setTimeout fires at once for NaN or over 2^31-1 ms.
    throw new RangeError(
      `timeoutMs must be between 1 and ${MAX_TIMEOUT_MS}, not ${options.timeoutMs}`,
    );
  }
  // Absolute, because a venv records it and pip's path is built from it.
  const dir = resolve(options.dir);
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const plan = await planBuild(dir, options.stack);
  const network = options.network;
  const files = network ? buildNetworkFiles(network) : {};
  const networkDir = join(dir, BUILD_NETWORK_DIR);
  const env = buildEnv(options.controllerEnv ?? process.env, {
    ...network?.env,
    ...(network ? buildNetworkFileEnv(network, networkDir) : {}),
    ...options.env,
    ...options.jail?.env,
  });
  if (options.jail && env['PATH'] !== undefined)
    env['PATH'] = options.jail.reachablePath(env['PATH']);
  const context = {
    cwd: dir,
    env,
    deadline,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    log: options.log,
    ...(options.jail ? { wrap: (argv: readonly string[]) => options.jail!.wrap(argv) } : {}),
  };
  // Nothing to fetch (a static site, a Procfile app): no copies to make.
  const placed = plan.length > 0 && Object.keys(files).length > 0;
  const commands: BuildCommandResult[] = [];
  try {
    if (placed) await placeBuildNetworkFiles(networkDir, files, context);
    for (const command of plan) {
      if (options.signal.aborted) {
        throw new BuildFailure(
          BuildFailureReasons.ABORTED,
          `the build was stopped before ${command.name}`,
        );
      }
      const commandStarted = Date.now();
      options.log(`$ ${command.argv.map((arg) => slugRelative(dir, arg)).join(' ')}`);
      await runCommand(command, context);
      commands.push({
        name: command.name,
        argv: command.argv,
        durationMs: Date.now() - commandStarted,
      });
    }
  } finally {
    // The copies (a registry token in .npmrc) are the build's, not the release's.
    if (placed) {
      await placeBuildNetworkFiles(networkDir, null, {
        ...context,
        signal: AbortSignal.timeout(30_000),
        deadline: Date.now() + 30_000,
      });
    }
  }
  return { commands, durationMs: Date.now() - started };
}

/** `<dir>/.venv/bin/pip` → `.venv/bin/pip`: the log shows commands as the app's author sees them. */
function slugRelative(dir: string, arg: string): string {
  return arg.startsWith(dir + sep) ? relative(dir, arg) : arg;
}
