import { createHash } from 'node:crypto';
import path from 'node:path';
import type { UnitSpec } from '../driver.js';

/**
 * The labels Berth puts on its containers. They are the containers' record: a restarted
 * controller lists its units by them, and cleanup finds what Berth made (never anything else).
 */
export const Labels = Object.freeze({
  /** Which runtime root (data dir) made the container: several Berths may share an engine. */
  root: 'berth.root',
  /** 'unit', 'one-off', or 'addon' (an add-on's server). */
  kind: 'berth.kind',
  unit: 'berth.unit',
  app: 'berth.app',
  release: 'berth.release',
  process: 'berth.process',
  index: 'berth.index',
  /** The host port on loopback where the unit's PORT is published (the same number inside). */
  port: 'berth.port',
  /** When the unit was first started: restarts keep it. */
  startedAt: 'berth.started-at',
  /** The unit's RestartPolicy as JSON. */
  restart: 'berth.restart',
  /** The memory limit in bytes, to tell an out-of-memory kill from other SIGKILLs. */
  memory: 'berth.memory',
  /** The CPU limit, in CPUs. */
  cpus: 'berth.cpus',
  /** An add-on server's container (kind 'addon'): the add-on's name and kind. */
  addon: 'berth.addon',
  addonKind: 'berth.addon-kind',
} as const);

/** The value of the root label: a short digest of the runtime root's path. */
export function rootLabel(root: string): string {
  return createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 16);
}

/** Container names: Berth's prefix, then the unit id (which is unique in the runtime). */
export function containerName(unitId: string): string {
  return `berth-${unitId}`;
}

/** The per-app network, so that apps do not reach each other's containers. */
export function appNetworkName(app: string): string {
  return `berth-app-${app}`;
}

/** The labels of a unit's container. */
export function unitLabels(
  root: string,
  spec: UnitSpec,
  port: number,
  startedAt: string,
): Record<string, string> {
  return {
    [Labels.root]: root,
    [Labels.kind]: 'unit',
    [Labels.unit]: spec.id,
    [Labels.app]: spec.app,
    [Labels.release]: String(spec.release),
    [Labels.process]: spec.processType,
    [Labels.index]: String(spec.index),
    [Labels.port]: String(port),
    [Labels.startedAt]: startedAt,
    [Labels.restart]: JSON.stringify(spec.restart),
    ...(spec.limits?.memoryBytes === undefined
      ? {}
      : { [Labels.memory]: String(spec.limits.memoryBytes) }),
    ...(spec.limits?.cpus === undefined ? {} : { [Labels.cpus]: String(spec.limits.cpus) }),
  };
}
