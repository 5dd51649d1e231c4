import type { WebSocket } from 'ws';
import {
  inTopic,
  Subscription,
  type ChangeEvent,
  type ChangeTopic,
  type WatcherHub,
} from '../../changes/index.js';
import { BerthError, ErrorCodes, InputError, UnauthenticatedError } from '../../errors/index.js';
import type { AccessPolicy } from '../../domain/access/index.js';
import type { AppsService } from '../../domain/apps/index.js';
import type { ConfigService } from '../../domain/config/index.js';
import type { DeploymentsService } from '../../domain/deployments/index.js';
import type { FormationService } from '../../domain/formation/index.js';
import type { IdentityService, Principal } from '../../domain/identity/index.js';
import type { ReleasesService } from '../../domain/releases/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import type { Logger } from '../../logging/index.js';
import type { Driver } from '../../runtime/index.js';
import { logLineOut } from '../routes/index.js';

/** Close codes of the WebSocket API (4000–4999 are the application's). */
export const WsCloseCodes = Object.freeze({
  goingAway: 1001,
  unauthenticated: 4401,
  loginTimeout: 4408,
  tooSlow: 4429,
});

export interface WsSessionServices {
  readonly identity: IdentityService;
  readonly access: AccessPolicy;
  readonly apps: AppsService;
  readonly deployments: DeploymentsService;
  /** Watched only: `watch {app}` follows the app's changes in each. */
  readonly config: Pick<ConfigService, 'changesOf'>;
  readonly releases: Pick<ReleasesService, 'changesOf'>;
  readonly formation: Pick<FormationService, 'changesOf'>;
  readonly rollouts: Pick<RolloutsService, 'changesOf'>;
  readonly hub: WatcherHub;
  readonly logger: Logger;
  /** Where `logs` follows an app's units. */
  readonly runtime: Pick<Driver, 'followLogs'>;
}

/** What one connection may do; compiled once by the composition root (ServerOptions). */
export interface WsSessionLimits {
  /** The largest message a client may send; the WebSocket server refuses a longer one. */
  readonly maxMessageBytes: number;
  /** How long a new connection has to send its login message. */
  readonly loginTimeoutMs: number;
  readonly maxSubscriptions: number;
  /** Unsent bytes a client may leave queued before it is cut off. */
  readonly maxBufferedBytes: number;
  /** How often the session re-checks that its token is still valid. */
  readonly recheckTokenMs: number;
}

interface Request {
  readonly id: string | number | null;
  readonly method: string;
  readonly params: Record<string, unknown>;
}

/** What a watch pushes: one app changed, or one app's config changed. */
interface WatchEvent {
  readonly kind: 'app' | 'config' | 'deployment' | 'release' | 'formation' | 'rollout';
  readonly app: string;
  readonly change: 'created' | 'updated' | 'deleted';
}

/** What a watch follows: a domain service's topic, and the kind its changes are pushed as. */
interface WatchedTopic {
  readonly topic: ChangeTopic;
  readonly kind: WatchEvent['kind'];
}

function changeOf(event: ChangeEvent): WatchEvent['change'] {
  if (event.lastEditType === 4) return 'deleted';
  return event.editTypes & 1 ? 'created' : 'updated';
}

function parseRequest(raw: string): Request {
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    throw new InputError('the message is not valid JSON');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new InputError('a message is a JSON object {id, method, params}');
  }
  const { id, method, params } = message as Record<string, unknown>;
  if (typeof method !== 'string') throw new InputError("the message has no 'method'");
  if (
    params !== undefined &&
    (typeof params !== 'object' || params === null || Array.isArray(params))
  ) {
    throw new InputError("'params' must be an object");
  }
  const requestId = typeof id === 'string' || typeof id === 'number' ? id : null;
  return { id: requestId, method, params: (params ?? {}) as Record<string, unknown> };
}

/**
 * One WebSocket connection: the first message must log in; then the client may `watch` an
 * app (or the list of its apps) and `unsubscribe`. Events come from the change stream, not
 * from polling. Authorization is the same AccessPolicy the HTTP routes use.
 */
export class WsSession {
  readonly #socket: WebSocket;
  readonly #services: WsSessionServices;
  readonly #limits: WsSessionLimits;
  readonly #subscriptions = new Map<string, { close(): void }>();
  #token: string | undefined;
  #principal: Principal | undefined;
  #nextSubscription = 1;
  #timers: NodeJS.Timeout[] = [];
  /** Messages are handled one at a time, in order: a watch sent right after login waits for it. */
  #queue: Promise<void> = Promise.resolve();
  /** Work a method starts only once its reply is sent, so pushes never precede the reply. */
  #afterReply: (() => void) | undefined;

  constructor(socket: WebSocket, services: WsSessionServices, limits: WsSessionLimits) {
    this.#socket = socket;
    this.#services = services;
    this.#limits = limits;
    const loginTimer = setTimeout(() => {
      if (!this.#principal) this.#close(WsCloseCodes.loginTimeout, 'no login message in time');
    }, limits.loginTimeoutMs);
    this.#timers.push(loginTimer);
    socket.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      const text = isBinary ? '' : bytes.toString('utf8');
      this.#queue = this.#queue
        .then(() => this.#handle(text))
        .catch((error: unknown) =>
          services.logger.error({ err: error }, 'websocket message failed'),
        );
    });
    socket.on('close', () => this.#dispose());
    socket.on('error', () => this.#dispose());
  }

  async #handle(raw: string): Promise<void> {
    let request: Request | undefined;
    try {
      request = parseRequest(raw);
      if (!this.#principal) {
        if (request.method !== 'login') {
          throw new UnauthenticatedError(
            "the first message must be {method: 'login', params: {token}}",
          );
        }
        this.#reply(request, await this.#login(request.params));
        return;
      }
      // Every call re-checks the token, so a revoked token stops working at once.
      this.#principal = await this.#services.identity.authenticate(`Bearer ${this.#token ?? ''}`);
      this.#reply(request, await this.#dispatch(request));
      const start = this.#afterReply;
      this.#afterReply = undefined;
      start?.();
    } catch (error) {
      this.#afterReply = undefined;
      const known = error instanceof BerthError;
      if (!known) this.#services.logger.error({ err: error }, 'websocket request failed');
      const code = known ? error.code : ErrorCodes.INTERNAL;
      const message = known ? error.message : 'internal error; the server log has the details';
      this.#send({ id: request?.id ?? null, error: { code, message } });
      if (known && error.kind === 'unauthenticated')
        this.#close(WsCloseCodes.unauthenticated, code);
    }
  }

  async #login(params: Record<string, unknown>) {
    if (typeof params['token'] !== 'string')
      throw new UnauthenticatedError('login needs params.token');
    const principal = await this.#services.identity.authenticate(`Bearer ${params['token']}`);
    this.#token = params['token'];
    this.#principal = principal;
    const recheck = setInterval(() => {
      this.#services.identity
        .authenticate(`Bearer ${this.#token ?? ''}`)
        .catch((error: unknown) => {
          const code = error instanceof BerthError ? error.code : ErrorCodes.UNAUTHENTICATED;
          this.#close(WsCloseCodes.unauthenticated, code);
        });
    }, this.#limits.recheckTokenMs);
    recheck.unref();
    this.#timers.push(recheck);
    return { username: principal.username, scopes: [...principal.scopes].sort() };
  }

  async #dispatch(request: Request): Promise<unknown> {
    switch (request.method) {
      case 'watch':
        return this.#watch(request.params);
      case 'logs':
        return this.#logs(request.params);
      case 'events':
        return this.#events(request.params);
      case 'unsubscribe': {
        const id = request.params['subscription'];
        const subscription = typeof id === 'string' ? this.#subscriptions.get(id) : undefined;
        if (!subscription || typeof id !== 'string')
          throw new InputError(`no subscription '${String(id)}'`);
        subscription.close();
        this.#subscriptions.delete(id);
        return { unsubscribed: id };
      }
      case 'login':
        throw new InputError('already logged in');
      default:
        throw new InputError(`unknown method '${request.method.slice(0, 64)}'`);
    }
  }

  /**
   * `logs {app, process?}`: follows the app's log lines as its units write them; each push is
   * `{kind: 'log', type, index, unit, release, stream, text, at}`.
   */
  async #logs(params: Record<string, unknown>) {
    const principal = this.#principal;
    if (!principal) throw new UnauthenticatedError('log in first');
    if (this.#subscriptions.size >= this.#limits.maxSubscriptions) {
      throw new InputError(`at most ${this.#limits.maxSubscriptions} subscriptions per connection`);
    }
    const appName = params['app'];
    const processType = params['process'];
    if (typeof appName !== 'string') throw new InputError("'app' must be a string");
    if (
      processType !== undefined &&
      (typeof processType !== 'string' || !/^[a-z][a-z0-9-]{0,29}$/.test(processType))
    ) {
      throw new InputError("'process' must be a process type name");
    }
    const app = await this.#services.access.authorize(principal, { scope: 'read', app: appName });
    if (!app) throw new InputError('no app');
    const id = `sub-${this.#nextSubscription++}`;
    const abort = new AbortController();
    this.#subscriptions.set(id, { close: () => abort.abort() });
    this.#services.runtime
      .followLogs(
        { app: app.name, ...(typeof processType === 'string' ? { processType } : {}) },
        (line) => this.#send({ subscription: id, event: { kind: 'log', ...logLineOut(line) } }),
        abort.signal,
      )
      .catch((error: unknown) => {
        if (abort.signal.aborted) return;
        const message = error instanceof Error ? error.message : String(error);
        this.#send({ subscription: id, error: { code: ErrorCodes.INTERNAL, message } });
      })
      .finally(() => this.#subscriptions.delete(id));
    return { subscription: id };
  }

  /**
   * `events {app, deployment, after?}`: the task's progress events after the cursor `after`
   * (default 0), first what is stored, then live through the change stream; each push is
   * `{subscription, event: {id, at, kind, step, ...}}`, and after the `finished` event
   * `{subscription, end: {next}}`. A client that reconnects passes the last id it got.
   */
  async #events(params: Record<string, unknown>) {
    const principal = this.#principal;
    if (!principal) throw new UnauthenticatedError('log in first');
    if (this.#subscriptions.size >= this.#limits.maxSubscriptions) {
      throw new InputError(`at most ${this.#limits.maxSubscriptions} subscriptions per connection`);
    }
    const appName = params['app'];
    const deploymentId = params['deployment'];
    const after = params['after'] ?? 0;
    if (typeof appName !== 'string') throw new InputError("'app' must be a string");
    if (typeof deploymentId !== 'string' || deploymentId.length > 64)
      throw new InputError("'deployment' must be a deployment id");
    if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0)
      throw new InputError("'after' must be an event id (0 or more)");
    const app = await this.#services.access.authorize(principal, { scope: 'read', app: appName });
    if (!app) throw new InputError('no app');
    await this.#services.deployments.get(app.id, deploymentId);
    const id = `sub-${this.#nextSubscription++}`;
    const abort = new AbortController();
    this.#subscriptions.set(id, { close: () => abort.abort() });
    this.#afterReply = () => {
      void (async () => {
        let next = after;
        try {
          for await (const page of this.#services.deployments.follow(
            this.#services.hub,
            app.id,
            deploymentId,
            { after, signal: abort.signal },
          )) {
            for (const event of page.events) this.#send({ subscription: id, event });
            next = page.next;
          }
          if (!abort.signal.aborted) this.#send({ subscription: id, end: { next } });
        } catch (error) {
          if (abort.signal.aborted) return;
          const known = error instanceof BerthError;
          const code = known ? error.code : ErrorCodes.INTERNAL;
          const message = error instanceof Error ? error.message : String(error);
          this.#send({ subscription: id, error: { code, message } });
        } finally {
          this.#subscriptions.delete(id);
        }
      })();
    };
    return { subscription: id };
  }

  /** `watch {app}`: that app and its config; `watch {}`: the apps the caller may see. */
  async #watch(params: Record<string, unknown>) {
    const principal = this.#principal;
    if (!principal) throw new UnauthenticatedError('log in first');
    if (this.#subscriptions.size >= this.#limits.maxSubscriptions) {
      throw new InputError(`at most ${this.#limits.maxSubscriptions} subscriptions per connection`);
    }
    const appName = params['app'];
    if (appName !== undefined && typeof appName !== 'string')
      throw new InputError("'app' must be a string");
    const id = `sub-${this.#nextSubscription++}`;
    /** App id → name, for the apps this watch reports; names of deleted apps come from here. */
    const known = new Map<string, string>();
    const { apps, config, deployments, releases, formation, rollouts } = this.#services;
    let watched: readonly WatchedTopic[];
    let single = false;
    if (appName !== undefined) {
      const app = await this.#services.access.authorize(principal, { scope: 'read', app: appName });
      if (!app) throw new InputError('no app');
      known.set(app.id, app.name);
      single = true;
      watched = [
        { topic: apps.changesOf(app.id), kind: 'app' },
        { topic: config.changesOf(app.id), kind: 'config' },
        { topic: deployments.taskChangesOf(app.id), kind: 'deployment' },
        { topic: releases.changesOf(app.id), kind: 'release' },
        { topic: formation.changesOf(app.id), kind: 'formation' },
        { topic: rollouts.changesOf(app.id), kind: 'rollout' },
      ];
    } else {
      this.#services.access.requireScope(principal, 'read');
      watched = [{ topic: apps.changes(), kind: 'app' }];
    }
    // Subscribe before the initial query, so no change falls between the two.
    const subscription = new Subscription(this.#services.hub, {
      filters: watched.map((w) => w.topic),
    });
    this.#subscriptions.set(id, subscription);
    if (!single) {
      for (const app of await this.#services.apps.list(
        this.#services.access.visibleOwner(principal),
      )) {
        known.set(app.id, app.name);
      }
    }
    void this.#pump(id, subscription, watched, known, single);
    return { subscription: id };
  }

  async #pump(
    id: string,
    subscription: Subscription,
    watched: readonly WatchedTopic[],
    known: Map<string, string>,
    single: boolean,
  ): Promise<void> {
    try {
      for await (const batch of subscription) {
        for (const event of batch) {
          const pushed = await this.#eventFor(event, watched, known, single);
          if (pushed) this.#send({ subscription: id, event: pushed });
        }
      }
    } catch (error) {
      const code =
        error instanceof Error && 'code' in error ? String(error.code) : ErrorCodes.INTERNAL;
      const message = error instanceof Error ? error.message : String(error);
      this.#send({ subscription: id, error: { code, message } });
    } finally {
      this.#subscriptions.delete(id);
    }
  }

  async #eventFor(
    event: ChangeEvent,
    watched: readonly WatchedTopic[],
    known: Map<string, string>,
    single: boolean,
  ): Promise<WatchEvent | undefined> {
    const principal = this.#principal;
    if (!principal) return undefined;
    const kind = watched.find((w) => inTopic(w.topic, event))?.kind;
    if (kind === undefined) return undefined;
    // Only an app event is of the app itself; the others report a change of something it has.
    const change = kind === 'app' ? changeOf(event) : 'updated';
    if (change === 'deleted') {
      const name = known.get(event.changed);
      if (name === undefined) return undefined;
      if (!single) known.delete(event.changed);
      return { kind, app: name, change };
    }
    const app = await this.#services.apps.findById(event.changed);
    if (!app || !this.#services.access.mayAccess(principal, app)) return undefined;
    known.set(app.id, app.name);
    return { kind, app: app.name, change };
  }

  #reply(request: Request, result: unknown): void {
    this.#send({ id: request.id, result });
  }

  #send(message: unknown): void {
    if (this.#socket.readyState !== this.#socket.OPEN) return;
    if (this.#socket.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.#close(WsCloseCodes.tooSlow, 'the client does not read its messages fast enough');
      return;
    }
    this.#socket.send(JSON.stringify(message));
  }

  #close(code: number, reason: string): void {
    this.#dispose();
    if (
      this.#socket.readyState === this.#socket.OPEN ||
      this.#socket.readyState === this.#socket.CONNECTING
    ) {
      this.#socket.close(code, reason.slice(0, 120));
    }
  }

  #dispose(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    for (const subscription of this.#subscriptions.values()) subscription.close();
    this.#subscriptions.clear();
  }
}
