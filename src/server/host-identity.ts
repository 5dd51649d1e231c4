import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { HostIdentity } from '../domain/data-plane/index.js';

/**
 * This machine as the store records it (see DataPlaneService.attach). The id is the operator's
 * BERTH_HOST_ID when set, else systemd's /etc/machine-id (stable across renames and reboots,
 * and different on every install), else the hostname. BERTH_HOST_ID is for what the machine id
 * cannot tell: two clones of one VM image share it, and a host that replaces a dead one takes
 * over its data plane by taking its id.
 */
export async function thisHost(configuredId: string | undefined): Promise<HostIdentity> {
  const name = os.hostname();
  if (configuredId !== undefined) return { id: configuredId, name };
  const machineId = await readFile('/etc/machine-id', 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  return { id: machineId === '' ? `hostname:${name}` : machineId, name };
}
