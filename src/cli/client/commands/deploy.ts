// `berth deploy [DIR]`: packs the directory (after .gitignore/.berthignore), uploads it with a
// progress bar on a terminal, then follows the task's events by cursor until it ends.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { appPath, type ApiClient } from '../api-client.js';
import { appOfGitRemote } from '../app-name.js';
import { bundleDirectory } from '../bundle.js';
import { CliError, UsageError } from '../errors.js';
import { colour, isInteractive, line, note, printJson } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

/** A deployment task as GET /apps/{app}/deployments/{id} shows it. */
export interface DeploymentRecord {
  readonly id: string;
  readonly app: string;
  readonly status: string;
  readonly taskActive: boolean;
  readonly release: number | null;
  readonly details: {
    readonly error: string | null;
    readonly processErrors: Record<string, string | null> | null;
    readonly steps: readonly { name: string; status: string }[];
  };
  readonly log?: string;
}

interface DeployOptions {
  readonly app?: string;
  readonly autoconfigure?: boolean;
  readonly follow: boolean;
  readonly json?: boolean;
}

async function upload(client: ApiClient, app: string, data: Buffer, autoconfigure: boolean) {
  const query = autoconfigure ? '?autoconfigure=true' : '';
  let onProgress: ((sent: number) => void) | undefined;
  let bar: { stop(): void } | undefined;
  if (isInteractive() && process.stderr.isTTY) {
    const { default: progress } = await import('cli-progress');
    const progressBar = new progress.SingleBar(
      { format: 'uploading [{bar}] {percentage}% {value}/{total} bytes', stream: process.stderr },
      progress.Presets.shades_classic,
    );
    progressBar.start(data.length, 0);
    onProgress = (sent) => progressBar.update(sent);
    bar = progressBar;
  }
  try {
    const reply = await client.request<{ id: string; status: string }>(
      'POST',
      `/deployments/${encodeURIComponent(app)}${query}`,
      { raw: { data, contentType: 'application/gzip', ...(onProgress ? { onProgress } : {}) } },
    );
    return reply.body;
  } finally {
    bar?.stop();
  }
}

/** One progress event as GET /apps/{app}/deployments/{id}/events pages them. */
interface DeploymentEvent {
  readonly id: number;
  readonly kind: 'step-started' | 'line' | 'step-finished' | 'finished' | 'trimmed';
  readonly step: string | null;
  readonly text?: string;
  readonly lines?: number;
}

/** How often the events are read again when the last read found nothing new. */
const EVENTS_POLL_MS = 200;
/** Every this-many empty reads, the record is read too: a task from before events has none. */
const RECORD_CHECK_EVERY = 10;

/**
 * Follows the task's events by cursor until its `finished` event, printing each step as it
 * starts and every line once, in order (a trim of old lines is said, never silent). Resolves
 * with the final record.
 */
export async function followTask(
  client: ApiClient,
  app: string,
  id: string,
  print: boolean,
): Promise<DeploymentRecord> {
  const task = `${appPath(app)}/deployments/${encodeURIComponent(id)}`;
  let spinner: { text: string; clear(): void; render(): void; stop(): void } | undefined;
  if (print && isInteractive()) {
    const { default: ora } = await import('ora');
    spinner = ora({ text: 'queued', stream: process.stdout }).start();
  }
  const say = (text: string) => {
    if (!print) return;
    spinner?.clear();
    line(text);
    spinner?.render();
  };
  let cursor = 0;
  let empty = 0;
  let ended = false;
  try {
    for (;;) {
      const page = await client.get<{ events: DeploymentEvent[]; next: number }>(
        `${task}/events?after=${cursor}&limit=1000`,
      );
      cursor = page.next;
      for (const event of page.events) {
        if (event.kind === 'step-started' && event.step) {
          say(colour.cyan(`-----> ${event.step}`));
          if (spinner) spinner.text = event.step;
        } else if (event.kind === 'line') {
          say(`       ${event.text ?? ''}`);
        } else if (event.kind === 'trimmed') {
          say(`       (${event.lines ?? '?'} earlier line(s) were dropped from the task's log)`);
        } else if (event.kind === 'finished') {
          ended = true;
        }
      }
      if (ended) return await client.get<DeploymentRecord>(task);
      if (page.events.length > 0) {
        empty = 0;
        continue;
      }
      if (++empty % RECORD_CHECK_EVERY === 0) {
        const record = await client.get<DeploymentRecord>(task);
        // Not active: its last events were written with its end, so one more read has them.
        if (!record.taskActive) ended = true;
        if (ended) continue;
      }
      await sleep(EVENTS_POLL_MS);
    }
  } finally {
    spinner?.stop();
  }
}

/** The one line a failed task ends with. */
export function failureOf(record: DeploymentRecord): string {
  const processErrors = Object.entries(record.details.processErrors ?? {})
    .filter(([, message]) => message)
    .map(([type, message]) => `${type}: ${message}`);
  const reason = record.details.error ?? (processErrors.join('; ') || 'no reason recorded');
  return `DEPLOY_${record.status.toUpperCase()}: ${reason.split('\n').join(' ').trim()}`;
}

export function registerDeploy(program: Command, context: CliContext): void {
  const deploy = program
    .command('deploy')
    .description('pack a directory and deploy it, following the build and rollout to the end')
    .argument('[dir]', 'the app source (default: .)', '.')
    .option('-a, --app <name>', "the app (default: the directory's berth git remote)")
    .option('--autoconfigure', "apply berth.json's sample env values")
    .option('--no-follow', 'return once the task is queued')
    .option('--json', 'print the final task record as JSON (and no progress)')
    .action(async (dir: string, options: DeployOptions) => {
      const root = path.resolve(dir);
      const app = options.app ?? (await appOfGitRemote(root));
      if (!app) throw new UsageError("which app? pass --app NAME or add a 'berth' git remote");
      const client = await context.client();
      const bundle = await bundleDirectory(root).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new UsageError(`no such directory: ${root}`);
        }
        throw error;
      });
      const show = !options.json;
      if (show) {
        note(
          `packed ${bundle.files.length} file(s) of ${root} (${(bundle.data.length / 1024).toFixed(1)} KiB)`,
        );
        for (const skipped of bundle.skipped) note(`skipped ${skipped} (not a regular file)`);
      }
      const queued = await upload(client, app, bundle.data, options.autoconfigure === true);
      if (show) line(`deploying ${app}: task ${queued.id} ${queued.status}`);
      if (!options.follow) {
        if (options.json) printJson(queued);
        return;
      }
      const record = await followTask(client, app, queued.id, show);
      if (options.json) printJson(record);
      if (record.status !== 'succeeded') throw new CliError(failureOf(record));
      if (show) line(colour.green(`deployed ${app}: release v${record.release ?? '?'}`));
    });
  withExamples(deploy, 'berth deploy . --app shop', 'berth deploy ./site --app docs --no-follow');
}
