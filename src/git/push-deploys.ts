import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { WatcherHub } from '../changes/index.js';
import {
  isActive,
  logTextOf,
  type Deployment,
  type DeploymentEvent,
  type DeploymentIntake,
  type DeploymentOptions,
  type DeploymentsService,
} from '../domain/deployments/index.js';
import { BerthError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { gitBaseEnv, runGit } from './run-git.js';

/** The app and caller of one push, as the hook endpoint needs them. */
export interface PushSession {
  readonly app: { readonly id: string; readonly name: string };
  readonly username: string;
  /** The repository's directory. */
  readonly repository: string;
  /** The branch whose pushes deploy. */
  readonly deployBranch: string;
}

export interface GitPushDeploysOptions {
  readonly deployments: DeploymentsService;
  /** How a pushed tree becomes a queued deploy (the same way as an upload). */
  readonly intake: DeploymentIntake;
  readonly logger: Logger;
  /** Where bundles made from pushes wait while they are checked. */
  readonly uploadDir: string;
  /** The largest bundle accepted, in bytes (the same limit as POST /deployments). */
  readonly bundleLimit: number;
  /** The change stream a push follows its task's events through. */
  readonly hub: WatcherHub;
}

/** A ref update as pre-receive reads it on stdin. */
interface RefUpdate {
  readonly oldSha: string;
  readonly newSha: string;
  readonly ref: string;
}

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ZERO = /^0+$/;
/** The name git gives a push's quarantine directory (git 2.39: `tmp_objdir-incoming-XXXXXX`). */
const QUARANTINE = /^(?:tmp_objdir-)?incoming-[A-Za-z0-9]+$/;

class PushRefused extends Error {}

/** Parses pre-receive's stdin: `<old> <new> <ref>` per line. */
function parseUpdates(text: string): RefUpdate[] {
  const updates: RefUpdate[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [oldSha, newSha, ref, extra] = line.trim().split(' ');
    if (!oldSha || !newSha || !ref || extra !== undefined || !SHA.test(oldSha) || !SHA.test(newSha))
      throw new PushRefused('berth: malformed ref update from the hook');
    updates.push({ oldSha, newSha, ref });
  }
  return updates;
}

/**
 * The controller's side of the pre-receive hook. Each receive-pack gets a one-time secret
 * (`openSession`) that only its http-backend's environment carries; the hook sends it with the
 * pushed refs to a 127.0.0.1 listener here. A push to the deploy branch becomes a bundle
 * (`git archive` of the pushed sha, from the push's quarantine), is checked like an upload,
 * queued through DeploymentsService.enqueue and followed: every event of the task goes back
 * to the hook as a line, which it prints, and the task's outcome is the hook's verdict.
 */
export class GitPushDeploys {
  readonly #options: GitPushDeploysOptions;
  readonly #sessions = new Map<string, PushSession>();
  readonly #stopping = new AbortController();
  readonly #server: http.Server;
  #port = 0;

  constructor(options: GitPushDeploysOptions) {
    this.#options = options;
    this.#server = http.createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        options.logger.error({ err: error }, 'git hook request failed');
        response.destroy();
      });
    });
  }

  /** Listens on a free 127.0.0.1 port. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** Stops following tasks (their pushes are told so) and closes the listener. */
  async close(): Promise<void> {
    this.#stopping.abort();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Registers a receive-pack; returns the variables its http-backend (and so its hook) gets,
   * and `end` to call when the request is over.
   */
  openSession(session: PushSession): { env: Record<string, string>; end: () => void } {
    const secret = randomBytes(32).toString('base64url');
    this.#sessions.set(secret, session);
    return {
      env: {
        BERTH_GIT_HOOK_PORT: String(this.#port),
        BERTH_GIT_PUSH_SECRET: secret,
        BERTH_GIT_NODE: process.execPath,
      },
      end: () => this.#sessions.delete(secret),
    };
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const secret = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const session = secret === undefined ? undefined : this.#sessions.get(secret);
    if (request.method !== 'POST' || request.url !== '/pre-receive' || !session || !secret) {
      request.resume();
      response.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
      return;
    }
    // One pre-receive per receive-pack: the secret is spent.
    this.#sessions.delete(secret);
    let text = '';
    for await (const chunk of request as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > 1024 * 1024) {
        response.writeHead(413).end();
        return;
      }
    }
    const input = JSON.parse(text) as {
      updates?: unknown;
      quarantine?: unknown;
      pushOptions?: unknown;
    };
    const pushOptions = Array.isArray(input.pushOptions)
      ? input.pushOptions.filter((o): o is string => typeof o === 'string')
      : [];
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const say = (line: string) => {
      if (!response.destroyed) response.write(`${JSON.stringify({ say: line })}\n`);
    };
    const gone = new AbortController();
    response.on('close', () => gone.abort());
    let ok = false;
    try {
      ok = await this.#preReceive(
        session,
        typeof input.updates === 'string' ? input.updates : '',
        typeof input.quarantine === 'string' ? input.quarantine : undefined,
        pushOptions,
        say,
        gone.signal,
      );
    } catch (error) {
      if (error instanceof PushRefused || error instanceof BerthError) say(error.message);
      else {
        this.#options.logger.error({ err: error, app: session.app.name }, 'git push failed');
        say('berth: internal error (see the controller log)');
      }
    }
    response.end(`${JSON.stringify({ ok })}\n`);
  }

  async #preReceive(
    session: PushSession,
    updatesText: string,
    quarantine: string | undefined,
    pushOptions: readonly string[],
    say: (line: string) => void,
    gone: AbortSignal,
  ): Promise<boolean> {
    for (const option of pushOptions) {
      if (option !== 'autoconfigure')
        throw new PushRefused(
          `berth: unknown push option '${option.slice(0, 64)}' (known: autoconfigure)`,
        );
    }
    const deployRef = `refs/heads/${session.deployBranch}`;
    const updates = parseUpdates(updatesText);
    let deploy: RefUpdate | undefined;
    for (const update of updates) {
      if (update.ref !== deployRef) {
        // Not "stored": the whole push is refused if the deploy branch's deploy fails.
        say(`berth: ${update.ref}: not deployed (pushes to ${session.deployBranch} deploy)`);
        continue;
      }
      if (ZERO.test(update.newSha))
        throw new PushRefused(
          `berth: deleting the deploy branch '${session.deployBranch}' is refused`,
        );
      deploy = update;
    }
    if (!deploy) return true;
    const deployment = await this.#enqueue(session, deploy, deployRef, quarantine, say, {
      autoconfigure: pushOptions.includes('autoconfigure'),
    });
    return this.#follow(session, deployment, say, gone);
  }

  /** Archives the pushed sha, checks the bundle as an upload is checked, and queues it. */
  async #enqueue(
    session: PushSession,
    update: RefUpdate,
    ref: string,
    quarantine: string | undefined,
    say: (line: string) => void,
    options: DeploymentOptions,
  ): Promise<Deployment> {
    const objects = path.join(session.repository, 'objects');
    const env = gitBaseEnv(session.repository);
    if (quarantine !== undefined) {
      // New objects are still in the push's quarantine; only a directory of this repository's.
      // Git gives it relative to the repository (the hook's working directory).
      const resolved = path.resolve(session.repository, quarantine);
      if (path.dirname(resolved) !== objects || !QUARANTINE.test(path.basename(resolved)))
        throw new PushRefused('berth: unexpected quarantine directory');
      env['GIT_OBJECT_DIRECTORY'] = resolved;
      env['GIT_ALTERNATE_OBJECT_DIRECTORIES'] = objects;
    }
    const workDir = path.join(this.#options.uploadDir, randomUUID());
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    try {
      const file = path.join(workDir, 'bundle.tar.gz');
      say(`berth: packing ${update.newSha.slice(0, 12)} of ${session.deployBranch}`);
      await runGit(
        ['--git-dir', session.repository, 'archive', '--format=tar.gz', '-o', file, update.newSha],
        { env },
      );
      const bytes = (await stat(file)).size;
      if (bytes > this.#options.bundleLimit)
        throw new PushRefused(
          `berth: the source is ${bytes} bytes packed, over the limit of ${this.#options.bundleLimit}`,
        );
      const deployment = await this.#options.intake.submit({
        app: session.app,
        bundle: { file, bytes },
        workDir,
        source: { kind: 'git', ref, sha: update.newSha },
        options,
      });
      this.#options.logger.info(
        {
          app: session.app.name,
          deployment: deployment.id,
          sha: update.newSha,
          user: session.username,
        },
        'git push queued a deployment',
      );
      say(`berth: deployment ${deployment.id} queued`);
      return deployment;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * Relays the task's events as they are written (in-process, through the change stream),
   * each exactly once and in order, until it ends; true when it succeeded.
   */
  async #follow(
    session: PushSession,
    queued: Deployment,
    say: (line: string) => void,
    gone: AbortSignal,
  ): Promise<boolean> {
    const { deployments, hub } = this.#options;
    const signal = AbortSignal.any([gone, this.#stopping.signal]);
    let finished: Extract<DeploymentEvent, { kind: 'finished' }> | undefined;
    for await (const page of deployments.follow(hub, session.app.id, queued.id, { signal })) {
      for (const event of page.events) {
        if (event.kind === 'finished') finished = event;
        const text = logTextOf(event);
        if (text !== undefined) say(text);
      }
    }
    if (!finished) {
      if (gone.aborted) return false;
      if (this.#stopping.signal.aborted) {
        say(
          `berth: the controller is stopping; the deployment goes on: GET /api/v1/deployments/${session.app.name}`,
        );
        return false;
      }
      // Ended without its event (the task was removed): the record says how.
      const task = await deployments.get(session.app.id, queued.id);
      if (isActive(task.status)) return false;
      finished = {
        kind: 'finished',
        status: task.status === 'succeeded' ? 'succeeded' : 'failed',
        error: task.error,
        release: task.releaseVersion,
        step: null,
        at: task.finishedAt ?? '',
        id: 0,
      };
    }
    if (finished.status === 'succeeded') {
      say(`berth: deployed ${session.app.name} release v${finished.release ?? '?'}`);
      return true;
    }
    say(`berth: deploy ${finished.status}: ${finished.error ?? 'no reason given'}`);
    return false;
  }
}
