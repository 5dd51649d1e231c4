// `berth apps info APP`: what a user asks about an app in one screen: where it answers, what
// runs (release, formation), how the last deploy went, where to push, and a failed rollout.
import { appPath, type ApiClient } from '../api-client.js';
import { appUrl } from '../app-url.js';
import { printFields, printJson, type Cell } from '../output.js';
import type { AppRecord } from './apps.js';

type Formation = Record<string, { count: number; memory: string | null; cpu: number | null }>;

/** The fields of a deployment record that info shows. */
interface DeploymentSummary {
  readonly id: string;
  readonly kind: string;
  readonly status: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly release: number | null;
  readonly details: { readonly error: string | null };
}

/** `web=2 (256M), worker=1`, or a hint when there are no process types yet. */
function formationLine(formation: Formation): string {
  const types = Object.entries(formation);
  if (types.length === 0) return 'no process types yet (deploy first)';
  return types
    .map(([type, f]) => {
      const size = [f.memory, f.cpu === null ? null : `${f.cpu} CPU`].filter(Boolean).join(', ');
      return `${type}=${f.count}${size ? ` (${size})` : ''}`;
    })
    .join(', ');
}

/** `succeeded at 2026-… (v3)`, `failed at …: the error's first line`, `running since …`. */
function deploymentLine(deployment: DeploymentSummary | undefined): string {
  if (!deployment) return 'none yet';
  const when = deployment.finishedAt
    ? `at ${deployment.finishedAt}`
    : `since ${deployment.createdAt}`;
  const release = deployment.release === null ? '' : ` (v${deployment.release})`;
  const error = deployment.details.error?.split('\n')[0];
  return `${deployment.status} ${when}${release}${error ? `: ${error}` : ''}`;
}

/** Prints the app's info (or all of it as JSON). */
export async function showAppInfo(
  client: ApiClient,
  env: NodeJS.ProcessEnv,
  name: string,
  json: boolean,
): Promise<void> {
  const path = appPath(name);
  const [app, formation, deployments] = await Promise.all([
    client.get<AppRecord>(path),
    client.get<Formation>(`${path}/formation`),
    client.get<DeploymentSummary[]>(`${path}/deployments`),
  ]);
  const { url, assumed } = appUrl(app.name, env);
  const gitUrl = `${client.server}/git/${app.name}.git`;
  // Newest first; an undeploy is not a deploy (the release field says nothing runs).
  const lastDeployment = deployments.find((d) => d.kind === 'deploy');
  if (json) {
    return printJson({ ...app, url, gitUrl, formation, lastDeployment: lastDeployment ?? null });
  }
  const live = app.rollout?.liveVersion;
  const fields: [string, Cell][] = [
    ['name', app.name],
    ['url', assumed.length > 0 ? `${url} (assumed ${assumed.join(' and ')})` : url],
    ['release', live === null || live === undefined ? 'none running' : `v${live}`],
    ['formation', formationLine(formation)],
    ['last deploy', deploymentLine(lastDeployment)],
    ['git remote', gitUrl],
  ];
  if (app.rollout?.failure) {
    const version = app.rollout.failedVersion === null ? '' : `v${app.rollout.failedVersion}: `;
    fields.push(['rollout failed', `${version}${app.rollout.failure}`]);
  }
  if (app.disk) fields.push(['disk', `${app.disk.images} image(s), ${app.disk.bytes} bytes`]);
  fields.push(['id', app.id], ['created', app.createdAt], ['updated', app.updatedAt]);
  printFields(fields);
}
