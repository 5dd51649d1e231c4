import type { App } from '../../domain/apps/index.js';
import type { OneOffResult } from '../../runtime/index.js';

/**
 * One-off runs of an app's live release: the use case lives in an application service (the
 * release runner); the route only maps HTTP to it.
 */
export interface OneOffRuns {
  runOneOff(
    app: App,
    request: { readonly command: string | readonly string[]; readonly timeoutMs: number },
    signal: AbortSignal,
  ): Promise<OneOffResult & { readonly release: number }>;
}
