import type { Logger } from '../logging/index.js';
import {
  containerAddonsRoot,
  containersRoot,
  detectIsolation,
  openContainerProfile,
  openProcessProfile,
  processRuntimeRoot,
  type PortClaims,
  type RuntimeProfile,
} from '../runtime/index.js';
import { assertReachableByApps } from './data-dir.js';
import type { ServerOptions } from './options.js';

/**
 * The one place that asks which runtime the options name, and opens its profile. A profile's
 * heavy dependencies load when it opens (dockerode in connectEngine), not with its module.
 * `portClaims` is the store's record of the ports held on this host, for the runtime's units.
 */
export async function openRuntimeProfile(
  options: ServerOptions,
  logger: Logger,
  portClaims?: (runtimeRoot: string) => PortClaims,
): Promise<RuntimeProfile> {
  switch (options.runtime) {
    case 'container': {
      const profile = await openContainerProfile({
        dataDir: options.dataDir,
        engineSocket: options.engineSocket,
        containerPorts: options.containerPorts,
        readOnlyRootFilesystem: options.containerReadOnly,
        imageKeep: options.imageKeep,
        addonImages: options.addonImages,
        ...(portClaims
          ? {
              portClaims: portClaims(containersRoot(options.dataDir)),
              addonPortClaims: portClaims(containerAddonsRoot(options.dataDir)),
            }
          : {}),
      });
      const { connection } = profile;
      logger.info(
        { socket: connection.socket, engine: connection.product, api: connection.apiVersion },
        'connected to the container engine',
      );
      return profile;
    }
    case 'process': {
      const isolation = await detectIsolation();
      // Apps that run as users of their own must reach their releases under the data dir.
      if (isolation.kind === 'users') await assertReachableByApps(options.dataDir);
      if (isolation.kind === 'users') {
        logger.info(
          {
            cgroups: isolation.cgroups.kind,
            ...(isolation.cgroups.kind === 'none' ? { reason: isolation.cgroups.reason } : {}),
          },
          isolation.cgroups.kind === 'none'
            ? 'apps run as users of their own; without control groups, memory and CPU limits are not enforced'
            : 'apps run as users of their own, in control groups that enforce their limits',
        );
      } else {
        logger.warn(
          { reason: isolation.reason },
          "single-tenant: apps run as the controller's own user, so this server holds the apps " +
            'of one user only; run it as root, or with --runtime container, to host several users',
        );
      }
      return openProcessProfile({
        dataDir: options.dataDir,
        isolation,
        unitPorts: options.unitPorts,
        ...(portClaims
          ? {
              portClaims: portClaims(processRuntimeRoot(options.dataDir)),
              portClaimsOf: portClaims,
            }
          : {}),
      });
    }
    case 'kubernetes':
      // compileServerOptions refuses it; kept so that the switch covers every runtime.
      throw new Error('the kubernetes runtime is not built yet');
  }
}
