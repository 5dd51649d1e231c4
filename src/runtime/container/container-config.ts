import { constants } from 'node:os';
import type { ContainerCreateOptions } from 'dockerode';
import type { UnitCommand, UnitLimits } from '../driver.js';
import { shellLine } from '../shell-line.js';

/**
 * The entrypoint and arguments of a command. A Procfile line runs under /bin/sh as it stands;
 * a simple one is prefixed with `exec` (shellLine, shared with the process runtime) so that
 * the app itself gets the stop signal (sh would die of SIGTERM and leave the app to be
 * killed). Nothing is spliced into the line.
 */
export function entrypointOf(
  command: UnitCommand,
): Pick<ContainerCreateOptions, 'Entrypoint' | 'Cmd'> {
  switch (command.kind) {
    case 'shell':
      return { Entrypoint: ['/bin/sh', '-c'], Cmd: [shellLine(command.line)] };
    case 'exec':
      return { Entrypoint: [command.argv[0] ?? ''], Cmd: command.argv.slice(1) };
    case 'image':
      return {};
  }
}

/** `KEY=value` pairs for the engine; values are never logged. */
export function envList(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

/** Ports below this need CAP_NET_BIND_SERVICE to be bound (Linux's default). */
const FIRST_UNPRIVILEGED_PORT = 1024;

export interface HostSettings {
  readonly network: string;
  readonly limits: UnitLimits | undefined;
  /** The most processes and threads the container may hold at once (a fork bomb's ceiling). */
  readonly pidsLimit: number;
  readonly readOnlyRootFilesystem: boolean;
  /** Loopback port published to the same port inside, or none (one-offs). */
  readonly publish?: { readonly host: string; readonly port: number };
}

/**
 * The host side of a Berth container: its app's network, limits, and what it may not do. No
 * privileged mode, no host mounts, no new privileges, no capabilities at all (even a root
 * image's root is then an ordinary user: no chown of others' files, no raw sockets, no
 * mounts), a ceiling on processes, no engine restart policy (the driver restarts units with
 * its own backoff), and an init that forwards signals and reaps children.
 */
export function hostConfigOf(settings: HostSettings): ContainerCreateOptions['HostConfig'] {
  const { limits, publish } = settings;
  // Unit ports are high; a port range configured below 1024 needs the one capability to bind.
  const lowPort = publish !== undefined && publish.port < FIRST_UNPRIVILEGED_PORT;
  return {
    NetworkMode: settings.network,
    Init: true,
    Privileged: false,
    SecurityOpt: ['no-new-privileges'],
    CapDrop: ['ALL'],
    ...(lowPort ? { CapAdd: ['NET_BIND_SERVICE'] } : {}),
    PidsLimit: settings.pidsLimit,
    RestartPolicy: { Name: 'no' },
    ...(publish
      ? {
          PortBindings: {
            [`${publish.port}/tcp`]: [{ HostIp: publish.host, HostPort: String(publish.port) }],
          },
        }
      : {}),
    ...(limits?.memoryBytes === undefined
      ? {}
      : { Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes }),
    ...(limits?.cpus === undefined ? {} : { NanoCpus: Math.round(limits.cpus * 1e9) }),
    ...(settings.readOnlyRootFilesystem
      ? { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m' } }
      : {}),
  };
}

/** An exit status as code or signal: 128+N is signal N, as shells and the engine report it. */
export function exitOf(status: number): { code: number | null; signal: string | null } {
  if (status > 128 && status <= 128 + 64) {
    const signals = constants.signals as Readonly<Record<string, number>>;
    const name = Object.keys(signals).find((key) => signals[key] === status - 128);
    if (name) return { code: null, signal: name };
  }
  return { code: status, signal: null };
}
