/** What the runtime tells a process about itself. */
export interface BerthVariables {
  readonly app: string;
  readonly release: number;
  readonly processType: string;
  readonly unitId: string;
  /** The port it listens on; none for a one-off. */
  readonly port?: number;
}

/**
 * The variables every runtime sets in a unit's or one-off's environment, over the app's
 * config (which may not set them: spec-rules.ts RESERVED_ENV_KEYS). One function for every
 * runtime, so that an app sees the same names on each.
 */
export function berthVariables(berth: BerthVariables): Record<string, string> {
  return {
    ...(berth.port === undefined ? {} : { PORT: String(berth.port) }),
    BERTH_APP: berth.app,
    BERTH_RELEASE: String(berth.release),
    BERTH_PROCESS: berth.processType,
    BERTH_UNIT: berth.unitId,
  };
}
