import path from 'node:path';
import { removeAppImages, SlugStore } from '../../build/index.js';
import { connectEngine, isEngineUnreachable, type EngineConnection } from '../../engine/index.js';
import type { PortClaims, PortRange } from '../ports/index.js';
import type { RuntimeProfile } from '../profile.js';
import { RuntimeDriver } from '../runtime-driver.js';
import type { AddonKind } from '../addons.js';
import { ContainerAddonServers } from './addon-servers.js';
import { ContainerDriver, DEFAULT_CONTAINER_PORTS } from './container-driver.js';
import { recordEngine } from './engine-record.js';
import { imageArtifacts, imageBuilder } from './release-artifacts.js';

/** Where the container runtime keeps its units' records and log files. */
export function containersRoot(dataDir: string): string {
  return path.join(dataDir, 'containers');
}

/** Where each release's image build context is kept (read by the runner, served if static). */
function buildContextsRoot(dataDir: string): string {
  return path.join(dataDir, 'build-contexts');
}

export interface ContainerProfileOptions {
  readonly dataDir: string;
  /** The engine's socket (--engine-socket); else DOCKER_HOST, else the usual sockets. */
  readonly engineSocket?: string | undefined;
  /** The loopback ports units are published on (BERTH_CONTAINER_PORTS). */
  readonly containerPorts?: PortRange;
  /** The store's record of ports held on this host, shared with other controllers. */
  readonly portClaims?: PortClaims;
  readonly readOnlyRootFilesystem?: boolean;
  /** How many releases' images each app keeps (BERTH_IMAGE_KEEP). */
  readonly imageKeep?: number;
  /** The store's port claims for the add-ons' servers (a root of their own). */
  readonly addonPortClaims?: PortClaims;
  /** The add-on server images (BERTH_POSTGRES_IMAGE, BERTH_REDIS_IMAGE); else the defaults. */
  readonly addonImages?: Partial<Readonly<Record<AddonKind, string>>>;
}

/** Where the port claims of the container runtime's add-on servers are rooted. */
export function containerAddonsRoot(dataDir: string): string {
  return path.join(containersRoot(dataDir), 'addons');
}

/** The container runtime's profile, with the engine it connected to (for the start-up line). */
export interface ContainerProfile extends RuntimeProfile {
  readonly kind: 'container';
  readonly connection: EngineConnection;
}

/**
 * Opens the container runtime: connects to the engine (one clear error naming where Berth
 * looked when none answers), adopts the units it runs, builds each release into an image
 * there, and remembers the engine for `berth down`.
 */
export async function openContainerProfile(
  options: ContainerProfileOptions,
): Promise<ContainerProfile> {
  const connection = await connectEngine({ socket: options.engineSocket });
  const engine = connection.engine;
  const root = containersRoot(options.dataDir);
  const driver = new RuntimeDriver(
    new ContainerDriver({
      engine,
      root,
      ...(options.containerPorts ? { portRange: options.containerPorts } : {}),
      ...(options.portClaims ? { portClaims: options.portClaims } : {}),
      ...(options.readOnlyRootFilesystem !== undefined
        ? { readOnlyRootFilesystem: options.readOnlyRootFilesystem }
        : {}),
    }),
  );
  await driver.init();
  await recordEngine(root, connection);
  return {
    kind: 'container',
    connection,
    capabilities: {
      artifact: 'image',
      enforcesLimits: true,
      isolatesApps: true,
      runsImages: true,
      logSource: 'engine',
    },
    driver,
    builder: imageBuilder(engine, new SlugStore({ root: buildContextsRoot(options.dataDir) })),
    artifacts: imageArtifacts(engine, { keep: options.imageKeep ?? 5 }),
    tenancy: 'multi',
    unreachableBackend: (error) =>
      isEngineUnreachable(error) ? 'the container engine' : undefined,
    namedLeftovers: {
      what: 'images',
      remove: (appName) => removeAppImages(engine, appName),
    },
    addons: new ContainerAddonServers({
      engine,
      root,
      ports: options.containerPorts ?? DEFAULT_CONTAINER_PORTS,
      ...(options.addonPortClaims ? { portClaims: options.addonPortClaims } : {}),
      ...(options.addonImages ? { images: options.addonImages } : {}),
    }),
    close: () => driver.destroy(),
  };
}
