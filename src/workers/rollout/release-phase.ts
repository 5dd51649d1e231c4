import { randomBytes } from 'node:crypto';
import type { Project } from '../../build/index.js';
import type { Driver } from '../../runtime/index.js';
import { limitsOf, processEnv, type ProcessTemplate } from './unit-specs.js';

/**
 * A command a rollout runs as a one-off of the new release, to its end: the release phase
 * (the Procfile's `release`) or one of app.json's deploy scripts.
 */
export interface PhaseCommand {
  /** What the events call it: `release`, `predeploy`, `postdeploy`. */
  readonly name: string;
  readonly line: string;
}

/** The one-offs of a rollout: before any unit of the new release starts, and after it serves. */
export interface RolloutPhases {
  /** Dokku's predeploy (deploys only), then the release phase; one that fails fails the rollout. */
  readonly before: readonly PhaseCommand[];
  /** Dokku's postdeploy, then Heroku's on the first deploy; a failure is reported, no more. */
  readonly after: readonly PhaseCommand[];
}

/**
 * What a deploy task asks of a rollout beyond the release phase: app.json's scripts run, and
 * Heroku's `postdeploy` too when no deploy of the app succeeded before.
 */
export interface DeployPhases {
  readonly firstDeploy: boolean;
}

/**
 * The phases a rollout of a release runs. The release phase runs for every new release (a
 * deploy, a config change, an add-on attached, a rollback: each is a new release); app.json's
 * scripts only when a deploy task rolls the release out, in Dokku's order (predeploy before the
 * release command).
 */
export function phasesOf(
  project: Project | undefined,
  deploy: DeployPhases | undefined,
): RolloutPhases {
  const scripts: Project['scripts'] = (deploy && project?.scripts) || {};
  const before: PhaseCommand[] = [];
  const after: PhaseCommand[] = [];
  if (scripts.predeploy !== undefined) before.push({ name: 'predeploy', line: scripts.predeploy });
  if (project?.releaseCommand !== undefined)
    before.push({ name: 'release', line: project.releaseCommand });
  if (scripts.postdeploy !== undefined)
    after.push({ name: 'postdeploy', line: scripts.postdeploy });
  if (deploy?.firstDeploy === true && scripts.firstPostdeploy !== undefined)
    after.push({ name: 'postdeploy', line: scripts.firstPostdeploy });
  return { before, after };
}

/** Lines of a failed phase's output its failure quotes (all of them are in the events). */
const QUOTED_LINES = 5;

/**
 * Runs `phase` as a one-off of the template's release: its build, config and add-on variables,
 * the `run` formation's limits, as the app's user, through the runtime's one-off path (a
 * process of the slug, a container of the release's image), with its output as lines of
 * `log`. Resolves undefined when it exits 0, else why not (the exit, a timeout) with its last
 * lines; throws the signal's reason when aborted.
 */
export async function runPhase(
  runtime: Driver,
  template: ProcessTemplate,
  phase: PhaseCommand,
  options: { readonly timeoutMs: number; readonly signal: AbortSignal; log(line: string): void },
): Promise<string | undefined> {
  const { release } = template;
  options.log(`${phase.name}: running ${phase.line}`);
  const started = performance.now();
  const result = await runtime.run(
    {
      id: `${template.appName}-v${release.version}-${phase.name}-${randomBytes(3).toString('hex')}`,
      app: template.appName,
      release: release.version,
      command: await template.artifacts.commandOf(template, { kind: 'command', line: phase.line }),
      artifact: await template.artifacts.artifactOf(template),
      env: processEnv(template),
      account: template.account,
      limits: limitsOf(template.formation),
      timeoutMs: options.timeoutMs,
    },
    (line) => {
      if (line.stream !== 'system') options.log(`${phase.name}: ${line.text}`);
    },
    options.signal,
  );
  if (options.signal.aborted) throw options.signal.reason;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!result.timedOut && result.exitCode === 0) {
    options.log(`${phase.name}: done in ${seconds} s`);
    return undefined;
  }
  const limit =
    options.timeoutMs % 1000 === 0 ? `${options.timeoutMs / 1000} s` : `${options.timeoutMs} ms`;
  const how = result.timedOut
    ? `did not end within ${limit}`
    : result.signal
      ? `was ended by ${result.signal}`
      : `exited with code ${result.exitCode ?? '-'}`;
  const last = result.output
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-QUOTED_LINES);
  return `${phase.name} (${phase.line}) ${how}${last.length > 0 ? `; last output: ${last.join(' | ')}` : ''}`;
}
