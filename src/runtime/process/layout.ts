import path from 'node:path';

/**
 * Where the process runtime keeps its files under its root:
 *
 *   units/<unitId>.json        the unit's record, written by its supervisor (never the env)
 *   units/<unitId>.stop.json   a stop request ({ graceMs }), written by the driver
 *   logs/<app>/<unitId>.log    JSON lines (LogLine), rotated to <unitId>.log.1
 *   logs/<app>/<runId>.log     the lines of a one-off process (processType 'run')
 *
 * Log files outlive their units, so that a redeploy's users can still read the replaced
 * units' last lines; removing the logs of stopped units is left to the owner of the root.
 */
export class RuntimeLayout {
  readonly root: string;
  readonly unitsDir: string;
  readonly logsDir: string;

  constructor(root: string) {
    this.root = root;
    this.unitsDir = path.join(root, 'units');
    this.logsDir = path.join(root, 'logs');
  }

  /** Where the unit's supervisor keeps its record. */
  recordFile(unitId: string): string {
    return path.join(this.unitsDir, `${unitId}.json`);
  }

  /** Where stop() leaves the grace period for the supervisor to read on SIGTERM. */
  stopFile(unitId: string): string {
    return path.join(this.unitsDir, `${unitId}.stop.json`);
  }

  /** The log files of one app's units and one-offs. */
  appLogDir(app: string): string {
    return path.join(this.logsDir, app);
  }

  /** The current log file of a unit or one-off. */
  logFile(app: string, unitId: string): string {
    return path.join(this.logsDir, app, `${unitId}.log`);
  }
}
