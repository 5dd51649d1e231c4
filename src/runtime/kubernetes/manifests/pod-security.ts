import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IVolume } from 'kubernetes-models/v1/Volume';

/** The uid app pods run as: any non-root uid works, as with the process runtime's app users. */
export const APP_UID = 10001;

/** A pod that runs as `uid`, never as root, with its volumes' group set to `uid`'s. */
export function podSecurity(uid: number): IPodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * A container without privilege escalation or capabilities; its root filesystem read-only,
 * so what it writes goes to the emptyDir volumes `scratchVolumes` names (always `/tmp`).
 */
export function containerSecurity(): NonNullable<IContainer['securityContext']> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
}

/** emptyDir volumes and their mounts, for the paths a read-only container must write. */
export function scratchVolumes(paths: Readonly<Record<string, string>>): {
  volumes: IVolume[];
  mounts: NonNullable<IContainer['volumeMounts']>;
} {
  const entries = Object.entries(paths);
  return {
    volumes: entries.map(([name]) => ({ name, emptyDir: {} })),
    mounts: entries.map(([name, mountPath]) => ({ name, mountPath })),
  };
}
