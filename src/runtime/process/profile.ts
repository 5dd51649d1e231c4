import path from 'node:path';
import { SlugStore } from '../../build/index.js';
import type { PortClaims, PortRange } from '../ports/index.js';
import type { RuntimeCapabilities, RuntimeProfile } from '../profile.js';
import { RuntimeDriver } from '../runtime-driver.js';
import { ProcessAddonServers } from './addon-servers.js';
import { AppSandboxes, type ProcessIsolation } from './app-sandbox.js';
import { ProcessDriver } from './process-driver.js';
import { directoryArtifacts, slugBuilder } from './release-artifacts.js';
import { SupervisorSpares } from './spare-supervisors.js';

/** Where the process runtime keeps its units' records and supervisors' files. */
export function processRuntimeRoot(dataDir: string): string {
  return path.join(dataDir, 'runtime');
}

/** Where each app's slugs, home and temporary files are: `<data-dir>/apps/<app-id>/`. */
export function processAppsRoot(dataDir: string): string {
  return path.join(dataDir, 'apps');
}

/**
 * How the process runtime of a data dir keeps apps apart: as users of their own (with
 * control groups where the machine has them) when the controller is root, else not at all.
 */
export function processSandboxes(dataDir: string, isolation: ProcessIsolation): AppSandboxes {
  return new AppSandboxes({
    isolation,
    appsRoot: processAppsRoot(dataDir),
    scopeKey: processRuntimeRoot(dataDir),
  });
}

export interface ProcessProfileOptions {
  readonly dataDir: string;
  /** How this machine keeps apps apart (detectIsolation). */
  readonly isolation: ProcessIsolation;
  /** The ports units are given (BERTH_UNIT_PORTS). */
  readonly unitPorts?: PortRange;
  /** The store's record of ports held on this host, shared with other controllers. */
  readonly portClaims?: PortClaims;
  /** The same record, bound to another runtime root: each add-on server's. */
  readonly portClaimsOf?: (runtimeRoot: string) => PortClaims;
}

/** The process runtime's profile: units as supervised process groups, releases as slugs. */
export interface ProcessProfile extends RuntimeProfile {
  readonly kind: 'process';
  readonly sandboxes: AppSandboxes;
}

/**
 * Opens the process runtime of a data dir: adopts the units its supervisors still run, builds
 * slugs in place (as the app's user where apps are users), runs them where they are.
 */
export async function openProcessProfile(options: ProcessProfileOptions): Promise<ProcessProfile> {
  const sandboxes = processSandboxes(options.dataDir, options.isolation);
  const root = processRuntimeRoot(options.dataDir);
  // A server starts units for deploys and add-on servers: a supervisor waits ready, so that
  // no start waits for one. The units' driver and the add-ons' short-lived ones share it.
  const spares = new SupervisorSpares({ nodePath: process.execPath, cwd: root });
  const driver = new RuntimeDriver(
    new ProcessDriver({
      root,
      sandboxes,
      spares,
      ...(options.unitPorts ? { portRange: options.unitPorts } : {}),
      ...(options.portClaims ? { portClaims: options.portClaims } : {}),
    }),
  );
  await driver.init();
  spares.start();
  const isolation = options.isolation;
  const capabilities: RuntimeCapabilities = {
    artifact: 'directory',
    enforcesLimits: isolation.kind === 'users' && isolation.cgroups.kind !== 'none',
    isolatesApps: isolation.kind === 'users',
    runsImages: false,
    logSource: 'files',
  };
  return {
    kind: 'process',
    capabilities,
    driver,
    sandboxes,
    builder: slugBuilder(new SlugStore({ root: processAppsRoot(options.dataDir) }), sandboxes),
    artifacts: directoryArtifacts(sandboxes),
    tenancy: isolation.kind === 'none' ? 'single' : 'multi',
    // Nothing but the machine itself runs the units: no backend can be away.
    unreachableBackend: () => undefined,
    addons: new ProcessAddonServers({
      dataDir: options.dataDir,
      isolation,
      ports: options.unitPorts,
      portClaims: options.portClaimsOf,
      spares,
    }),
    close: async () => {
      await driver.destroy();
      spares.close();
    },
  };
}
