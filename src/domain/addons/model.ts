import type { AddonKind } from '../../runtime/index.js';

export { ADDON_KINDS, type AddonKind } from '../../runtime/index.js';

/** A database server Berth created once and keeps until it is destroyed. */
export interface Addon {
  readonly id: string;
  readonly name: string;
  readonly kind: AddonKind;
  /** The server's major version; empty while the add-on is being created. */
  readonly version: string;
  readonly ownerId: string;
  /** The unprivileged uid its server runs as on the process runtime; never an app's. */
  readonly uid: number;
  /** The port its server listens on, chosen once; 0 while it is being created. */
  readonly port: number;
  /** Backups by schedule, or null. */
  readonly backupSchedule: AddonBackupSchedule | null;
  readonly createdAt: string;
}

/** An add-on's scheduled backups: when, how many succeeded ones to keep, since when. */
export interface AddonBackupSchedule {
  readonly expression: string;
  readonly retain: number;
  readonly since: string;
}

/** An add-on attached to an app: the app's releases hold `<alias>_URL`. */
export interface AddonAttachment {
  readonly addonId: string;
  readonly addonName: string;
  readonly appId: string;
  readonly alias: string;
  readonly createdAt: string;
}

/** The variable an attachment puts into the app's releases. */
export function attachmentVariable(alias: string): string {
  return `${alias}_URL`;
}

/** A backup of an add-on; its file is checked readable before it counts as succeeded. */
export interface AddonBackup {
  readonly id: string;
  readonly addonId: string;
  /** Unique per add-on: `b-<UTC time>`. */
  readonly name: string;
  readonly kind: AddonKind;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  /** Why it failed. */
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}
