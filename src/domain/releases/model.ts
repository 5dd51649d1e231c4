import type { ProcessCommands } from './process-command.js';

/** One release: what an app runs, numbered v1, v2… per app, never changed once made. */
export interface Release {
  readonly id: string;
  readonly appId: string;
  /** 1, 2, … per app, without gaps in the order releases were made. */
  readonly version: number;
  /** The built tree it runs, or null for a release made before any build. */
  readonly artifactId: string | null;
  readonly stack: string | null;
  /** Process type → what it runs, in declaration order. */
  readonly processes: ProcessCommands;
  /** Process type → count. */
  readonly formation: Readonly<Record<string, number>>;
  /** The app's config at the time, sealed for this release; ReleasesService.configOf opens it. */
  readonly configEnvelope: string;
  readonly description: string;
  readonly deploymentId: string | null;
  readonly createdAt: string;
}

/** A release as listings show it: the names of its config vars, never their values. */
export interface ReleaseSummary {
  readonly version: number;
  readonly description: string;
  readonly artifactId: string | null;
  readonly stack: string | null;
  /** Process type → its command as people read it (see describeProcess). */
  readonly processes: Readonly<Record<string, string>>;
  readonly formation: Readonly<Record<string, number>>;
  /** Sorted by code unit. */
  readonly configKeys: string[];
  readonly deploymentId: string | null;
  readonly createdAt: string;
}

/** What a new release is made of; the service adds the version and the config snapshot. */
export interface ReleaseInput {
  readonly appId: string;
  readonly artifactId: string | null;
  readonly stack: string | null;
  readonly processes: ProcessCommands;
  readonly formation: Readonly<Record<string, number>>;
  readonly description: string;
  /** The deployment task that made it, if one did. */
  readonly deploymentId?: string | undefined;
}
