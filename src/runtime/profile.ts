// A runtime profile: everything that differs between runtimes, chosen once when the controller
// starts (as Kysely's Dialect is for databases). Each runtime folder (process/, container/)
// exports one; the rest of Berth holds a profile and never asks which runtime it is.
import type { AddonServers } from './addons.js';
import type { BuildNetwork, SlugStore, Stack } from '../build/index.js';
import type { ProcessCommand, Release } from '../domain/releases/index.js';
import type { AppAccount, UnitArtifact, UnitCommand } from './driver.js';
import type { RuntimeDriver } from './runtime-driver.js';

/** The runtimes Berth has; a profile is one of them. */
export type RuntimeKind = 'process' | 'container';

/** What a runtime can do, for the code and messages that depend on it. */
export interface RuntimeCapabilities {
  /** What a release runs from: a slug directory in place, or an image. */
  readonly artifact: UnitArtifact['kind'];
  /** Whether the formation's memory and CPU are enforced (not only recorded). */
  readonly enforcesLimits: boolean;
  /** Whether each app's processes are kept apart from other apps' (a uid, a container). */
  readonly isolatesApps: boolean;
  /** Whether a process may run an image's own CMD (`{kind: 'image'}`). */
  readonly runsImages: boolean;
  /** Where units' output is read from, for operators: supervisor files or the engine. */
  readonly logSource: 'files' | 'engine';
}

/** What the runner needs of a release to start its units, whatever the runtime. */
export interface ReleaseOnRuntime {
  readonly appName: string;
  /** Whom the app's processes run as, where the runtime isolates apps by user. */
  readonly account: AppAccount;
  readonly release: Release;
  /** The release's build directory: the slug, or the image's build context. */
  readonly slugDir: string;
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

/** The app a build is for. */
export interface BuildTarget {
  readonly id: string;
  readonly name: string;
  /** The uid the app's processes (and so its build) run as, where apps are users. */
  readonly uid: number;
}

/** One build of an artifact's source, as the deploy's build step asks for it. */
export interface BuildRequest {
  readonly app: BuildTarget;
  readonly artifactId: string;
  /** The validated source; the build takes it over (it is moved, not copied, when it can be). */
  readonly sourceDir: string;
  readonly stack: Stack;
  /** Names what the build leaves running, so that it can be ended (the deployment's id). */
  readonly buildId: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** The host's proxies, CAs and npm/pip settings. */
  readonly network?: BuildNetwork;
}

/**
 * How a runtime builds a release's artifact and keeps the build: a slug in place (process
 * runtime) or an image on the engine (container runtimes). Either way the build directory is
 * kept in `builds`, where the runner reads the release's files (health check, static site).
 */
export interface ReleaseBuilder {
  readonly builds: SlugStore;
  /** Whether the artifact was built to the end here before: a redeploy reuses it. */
  isBuilt(app: BuildTarget, artifactId: string, stack: Stack): Promise<boolean>;
  /**
   * Builds it; on failure nothing of it is kept. Throws BuildFailure when the build itself
   * failed, or an error `unreachableBackend` names when the runtime did not answer.
   */
  build(request: BuildRequest): Promise<void>;
}

/** Everything that differs between runtimes, opened for one controller. */
export interface RuntimeProfile {
  readonly kind: RuntimeKind;
  readonly capabilities: RuntimeCapabilities;
  /** Units: start, stop, list, logs and one-offs, with the contract's lifecycle enforced. */
  readonly driver: RuntimeDriver;
  readonly builder: ReleaseBuilder;
  readonly artifacts: UnitArtifacts;
  /**
   * Who may own apps here: `multi` where apps are kept apart (users of their own, containers),
   * `single` where they would all run as the controller's user.
   */
  readonly tenancy: 'single' | 'multi';
  /**
   * The backend an error says did not answer (`the container engine`), or undefined when the
   * error is something else: such a failure can succeed once the backend is back.
   */
  unreachableBackend(error: unknown): string | undefined;
  /**
   * What the runtime keeps under an app's name beyond its units and builds (the container
   * runtime's images), removed before the app's row so that a new app of the same name never
   * finds it; undefined where there is nothing such.
   */
  readonly namedLeftovers?: {
    readonly what: string;
    remove(appName: string): Promise<void>;
  };
  /**
   * The add-on servers of this runtime (src/runtime/addons.ts), or undefined where the runtime
   * does not run add-ons yet, with `addonsUnavailable` saying so.
   */
  readonly addons?: AddonServers;
  readonly addonsUnavailable?: string;
  /** Lets go of the runtime (watchers, handles); units keep running. */
  close(): Promise<void>;
}
