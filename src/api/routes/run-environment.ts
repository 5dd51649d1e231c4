import type { App } from '../../domain/apps/index.js';
import type { Release } from '../../domain/releases/index.js';
import type { AppAccount, UnitArtifact, UnitLimits } from '../../runtime/index.js';

/**
 * Where a release's build is and the environment its processes get (config, per-type config
 * of `run`, the build's PATH). The composition root provides it; the routes stay runtime-free.
 */
export interface RunEnvironment {
  of(
    app: App,
    release: Release,
  ): Promise<{
    artifact: UnitArtifact;
    env: Readonly<Record<string, string>>;
    account: AppAccount;
    limits: UnitLimits;
  }>;
}
