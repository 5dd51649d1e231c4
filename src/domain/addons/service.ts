import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import {
  BerthError,
  ConflictError,
  ErrorCodes,
  InputError,
  NotFoundError,
  UnavailableError,
} from '../../errors/index.js';
import type { Logger } from '../../logging/index.js';
import type {
  AddonCredentials,
  AddonServers,
  AddonServerSpec,
  AddonServerStatus,
} from '../../runtime/index.js';
import type { SecretBox } from '../../secrets/index.js';
import { isUniqueViolation, type Store } from '../../store/index.js';
import type { Caller } from '../access/index.js';
import { APP_UIDS, type App } from '../apps/index.js';
import {
  attachmentVariable,
  type Addon,
  type AddonAttachment,
  type AddonBackup,
  type AddonBackupSchedule,
  type AddonKind,
} from './model.js';
import { parseBackupSchedule, validateRetain } from './backup-schedule.js';
import { DEFAULT_ALIASES, validateAddonName, validateAlias, validateKind } from './rules.js';
import { addonsState } from './state.js';

/** What the add-ons service needs from the store. */
export interface AddonsState {
  /** Inserts the add-on and records its uid; a unique violation when the name or uid is taken. */
  insert(addon: Addon, credentials: string): Promise<void>;
  /** Records the port and version of a server that now runs. */
  created(id: string, port: number, version: string): Promise<void>;
  findByName(name: string): Promise<Addon | undefined>;
  /** Every add-on, by name. */
  list(): Promise<Addon[]>;
  /** The sealed credentials of the add-on. */
  credentials(id: string): Promise<string | undefined>;
  attachments(query: { addonId?: string; appId?: string }): Promise<AddonAttachment[]>;
  /** A unique violation when the app has the alias already or the add-on is attached to it. */
  attach(attachment: Omit<AddonAttachment, 'addonName'>): Promise<void>;
  detach(addonId: string, appId: string): Promise<boolean>;
  insertBackup(backup: AddonBackup): Promise<void>;
  finishBackup(
    id: string,
    outcome: Pick<AddonBackup, 'status' | 'sizeBytes' | 'sha256' | 'error' | 'finishedAt'>,
  ): Promise<void>;
  /** The add-on's backups, newest first. */
  backups(addonId: string): Promise<AddonBackup[]>;
  setBackupSchedule(id: string, schedule: AddonBackupSchedule | null): Promise<void>;
  deleteBackup(id: string): Promise<void>;
  /** Marks every running backup failed: a controller starts, so none of them runs any more. */
  failRunningBackups(reason: string, now: string): Promise<void>;
  /** Deletes the add-on unless it is attached (checked in the same transaction). */
  delete(id: string): Promise<'deleted' | 'attached' | 'absent'>;
  readonly changesNamespace: string;
  readonly attachmentsNamespace: string;
}

/** The apps an add-on service needs to know: their names, their owners, their config keys. */
export interface AddonApps {
  findById(id: string): Promise<App | undefined>;
  /** The app's config var names (an attachment's variable must not be one). */
  configKeys(appId: string): Promise<string[]>;
}

export interface AddonsServiceOptions {
  readonly store: Store;
  readonly secrets: SecretBox;
  readonly apps: AddonApps;
  /** The runtime's servers; without them, add-ons are refused with `unavailableReason`. */
  readonly servers: AddonServers | undefined;
  readonly unavailableReason?: string;
  /**
   * Makes the app's next release after its attachments changed (it then runs with the new
   * variables); resolves to its version, or undefined when the app has no release yet.
   */
  readonly rollRelease: (appId: string) => Promise<number | undefined>;
  readonly logger: Logger;
  /** Where backups are kept: `<backupsDir>/<addon>/<backup>.dump|.rdb` (`<data-dir>/backups`). */
  readonly backupsDir: string;
  readonly clock?: () => Date;
}

/** What a new add-on is: its kind, and a name unless Berth picks one. */
export interface AddonInput {
  readonly kind: unknown;
  readonly name?: string | undefined;
  /** Attached to this app at once, as `alias` (or the kind's default). */
  readonly app?: App | undefined;
  readonly alias?: string | undefined;
}

/** An add-on with its attachments and its server's state, as `info` shows it. */
export interface AddonInfo {
  readonly addon: Addon;
  readonly attachments: readonly AddonAttachment[];
  readonly status: AddonServerStatus | { readonly state: 'creating'; readonly restarts: 0 };
}

/** A backup file's extension by kind: pg_dump's custom format, a Redis snapshot. */
const BACKUP_EXTENSIONS: Readonly<Record<AddonKind, string>> = Object.freeze({
  postgres: 'dump',
  redis: 'rdb',
});

/** `2026-12-03T12:20:00.123Z` → `20261203T122000123Z`: a name part that sorts by time. */
function compactTime(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

/** A file's size and SHA-256, read as a stream. */
async function digest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** A uid drawn that was given before (rare): the insert fails and draws again. */
const UID_ATTEMPTS = 5;

/** Binds the credentials' envelope to their add-on: copied to another, they do not open. */
function associatedData(addonId: string): string {
  return `addon:${addonId}`;
}

function addonNotFound(name: string): NotFoundError {
  return new NotFoundError(
    `add-on '${name.slice(0, 64)}' does not exist`,
    ErrorCodes.ADDON_NOT_FOUND,
  );
}

/** A password of 32 random bytes, URL-safe, so that it sits in a URL unescaped. */
function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** PostgreSQL's role and database for an add-on: its name with '_' for '-'. */
function credentialsFor(name: string): AddonCredentials {
  const base = name.replace(/-/g, '_');
  // PostgreSQL reserves role names that begin with pg_ (pg-cache would be pg_cache).
  const user = base.startsWith('pg_') ? `addon_${base}` : base;
  return { user, password: newPassword(), database: base };
}

/**
 * Add-ons: database servers created once, attached to apps as `<ALIAS>_URL`, kept through
 * every deploy, rollback, restart and `berth down`, and removed only by an explicit destroy.
 * Who may touch which add-on is the access policy's to decide; callers pass what it allowed.
 */
export class AddonsService {
  readonly #state: AddonsState;
  readonly #secrets: SecretBox;
  readonly #apps: AddonApps;
  readonly #servers: AddonServers | undefined;
  readonly #unavailableReason: string;
  readonly #rollRelease: (appId: string) => Promise<number | undefined>;
  readonly #logger: Logger;
  readonly #backupsDir: string;
  readonly #clock: () => Date;
  /** Add-ons a backup or a restore runs on in this controller: one at a time each. */
  readonly #busy = new Set<string>();

  constructor(options: AddonsServiceOptions) {
    this.#state = addonsState(options.store);
    this.#secrets = options.secrets;
    this.#apps = options.apps;
    this.#servers = options.servers;
    this.#unavailableReason = options.unavailableReason ?? 'this runtime does not run add-ons yet';
    this.#rollRelease = options.rollRelease;
    this.#logger = options.logger;
    this.#backupsDir = options.backupsDir;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to any add-on: created, destroyed. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to the add-ons attached to the app `appId`. */
  attachmentsChangesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.attachmentsNamespace, appId);
  }

  /**
   * Creates the add-on's server, waits until it accepts connections, and attaches it to
   * `input.app` when one is given. Nothing is left of a creation that failed.
   */
  async create(
    ownerId: string,
    input: AddonInput,
  ): Promise<{ addon: Addon; attachment?: AddonAttachment; release?: number }> {
    const kind = validateKind(input.kind);
    const name = validateAddonName(input.name ?? (await this.#freeName(kind, input.app)));
    const alias = input.app ? validateAlias(input.alias ?? DEFAULT_ALIASES[kind]) : undefined;
    const servers = await this.#serversFor(kind);
    if (await this.#state.findByName(name)) throw this.#exists(name);
    if (input.app && alias) await this.#requireFreeAlias(input.app, alias);

    const credentials =
      kind === 'redis' ? { ...credentialsFor(name), user: 'default' } : credentialsFor(name);
    const addon = await this.#insert({ name, kind, ownerId }, credentials);
    const spec: AddonServerSpec = { name, kind, uid: addon.uid, credentials };
    let created: Addon;
    try {
      const endpoint = await servers.create(spec);
      await this.#state.created(addon.id, endpoint.port, endpoint.version);
      created = { ...addon, port: endpoint.port, version: endpoint.version };
    } catch (error) {
      await servers.destroy(name).catch((cleanup: unknown) => {
        this.#logger.warn({ err: cleanup, addon: name }, 'could not remove a failed add-on');
      });
      await this.#state.delete(addon.id);
      throw error;
    }
    this.#logger.info({ addon: name, kind, port: created.port }, 'add-on created');
    if (!input.app || !alias) return { addon: created };
    const attached = await this.attach(created, input.app, alias);
    return { addon: created, ...attached };
  }

  async #freeName(kind: AddonKind, app: App | undefined): Promise<string> {
    const preferred = app ? `${app.name}-${kind}` : undefined;
    if (preferred && preferred.length <= 39 && !(await this.#state.findByName(preferred)))
      return preferred;
    return `${kind}-${randomBytes(3).toString('hex')}`;
  }

  async #serversFor(kind: AddonKind): Promise<AddonServers> {
    const servers = this.#servers;
    if (!servers) {
      throw new ConflictError(
        `add-ons are not available: ${this.#unavailableReason}`,
        ErrorCodes.ADDONS_UNAVAILABLE,
      );
    }
    const reason = await servers.unavailable(kind);
    if (reason !== undefined) {
      throw new ConflictError(
        `${kind} add-ons are not available here: ${reason}`,
        ErrorCodes.ADDONS_UNAVAILABLE,
      );
    }
    return servers;
  }

  #exists(name: string): ConflictError {
    return new ConflictError(`an add-on named '${name}' already exists`, ErrorCodes.ADDON_EXISTS);
  }

  async #insert(
    fields: { name: string; kind: AddonKind; ownerId: string },
    credentials: AddonCredentials,
  ): Promise<Addon> {
    const id = randomUUID();
    const sealed = this.#secrets.seal(JSON.stringify(credentials), associatedData(id));
    for (let attempt = 1; ; attempt++) {
      const addon: Addon = {
        id,
        ...fields,
        version: '',
        uid: randomInt(APP_UIDS.from, APP_UIDS.to),
        port: 0,
        backupSchedule: null,
        createdAt: this.#clock().toISOString(),
      };
      try {
        await this.#state.insert(addon, sealed);
        return addon;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (await this.#state.findByName(fields.name)) throw this.#exists(fields.name);
        if (attempt >= UID_ATTEMPTS) throw error;
      }
    }
  }

  async #requireFreeAlias(app: App, alias: string): Promise<void> {
    const variable = attachmentVariable(alias);
    const taken = (await this.#state.attachments({ appId: app.id })).find((a) => a.alias === alias);
    if (taken) {
      throw new ConflictError(
        `app '${app.name}' has ${variable} from add-on '${taken.addonName}' already; attach with another alias (--as)`,
        ErrorCodes.ADDON_ALIAS_TAKEN,
      );
    }
    if ((await this.#apps.configKeys(app.id)).includes(variable)) {
      throw new ConflictError(
        `app '${app.name}' has a config var ${variable}; unset it or attach with another alias (--as)`,
        ErrorCodes.ADDON_ALIAS_TAKEN,
      );
    }
  }

  /** The add-on named `name`; NotFoundError when there is none. */
  async get(name: string): Promise<Addon> {
    const addon = /^[a-z][a-z0-9-]{0,38}$/.test(name)
      ? await this.#state.findByName(name)
      : undefined;
    if (!addon) throw addonNotFound(name);
    return addon;
  }

  /**
   * Whether the caller may use the add-on: an admin, its owner, or the owner of an app it is
   * attached to (who reads it through that app).
   */
  async mayUse(caller: Caller, addon: Addon): Promise<boolean> {
    if (caller.isAdmin || addon.ownerId === caller.userId) return true;
    for (const attachment of await this.#state.attachments({ addonId: addon.id })) {
      const app = await this.#apps.findById(attachment.appId);
      if (app?.ownerId === caller.userId) return true;
    }
    return false;
  }

  /** Whether the caller may change or destroy the add-on: an admin or its owner. */
  mayManage(caller: Caller, addon: Addon): boolean {
    return caller.isAdmin || addon.ownerId === caller.userId;
  }

  /** The add-ons the caller may use, by name. */
  async list(caller: Caller): Promise<Addon[]> {
    const all = await this.#state.list();
    if (caller.isAdmin) return all;
    const visible: Addon[] = [];
    for (const addon of all) if (await this.mayUse(caller, addon)) visible.push(addon);
    return visible;
  }

  attachmentsOf(addon: Addon): Promise<AddonAttachment[]> {
    return this.#state.attachments({ addonId: addon.id });
  }

  attachmentsOfApp(appId: string): Promise<AddonAttachment[]> {
    return this.#state.attachments({ appId });
  }

  /** The add-on with its attachments and its server's state. */
  async info(addon: Addon): Promise<AddonInfo> {
    const attachments = await this.attachmentsOf(addon);
    if (addon.port === 0) return { addon, attachments, status: { state: 'creating', restarts: 0 } };
    const status = this.#servers
      ? await this.#servers.status(addon.name)
      : { state: 'absent' as const, restarts: 0 };
    return { addon, attachments, status };
  }

  /** The URL apps get, with its password: for `info --reveal` and the app's releases. */
  async urlOf(addon: Addon): Promise<string> {
    const credentials = await this.#credentialsOf(addon);
    const { host, port } = this.#servers?.address?.(addon.name, addon.kind, addon.port) ?? {
      host: '127.0.0.1',
      port: addon.port,
    };
    const password = encodeURIComponent(credentials.password);
    if (addon.kind === 'redis') return `redis://default:${password}@${host}:${port}/0`;
    return `postgres://${encodeURIComponent(credentials.user)}:${password}@${host}:${port}/${encodeURIComponent(credentials.database)}`;
  }

  async #credentialsOf(addon: Addon): Promise<AddonCredentials> {
    const sealed = await this.#state.credentials(addon.id);
    if (sealed === undefined) throw addonNotFound(addon.name);
    return JSON.parse(this.#secrets.open(sealed, associatedData(addon.id))) as AddonCredentials;
  }

  /** The variables the app's attachments give it, each with the add-on that gives it. */
  async variablesOf(appId: string): Promise<ReadonlyMap<string, string>> {
    const attached = await this.#state.attachments({ appId });
    return new Map(attached.map((a) => [attachmentVariable(a.alias), a.addonName]));
  }

  /** The variables the app's attachments give its releases: `<ALIAS>_URL` → URL. */
  async environmentOf(appId: string): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    const byName = new Map((await this.#state.list()).map((addon) => [addon.name, addon]));
    for (const attachment of await this.#state.attachments({ appId })) {
      const addon = byName.get(attachment.addonName);
      if (addon && addon.port !== 0)
        env[attachmentVariable(attachment.alias)] = await this.urlOf(addon);
    }
    return env;
  }

  /** Attaches the add-on to the app as `alias` and rolls the app a release that has it. */
  async attach(
    addon: Addon,
    app: App,
    aliasInput?: string,
  ): Promise<{ attachment: AddonAttachment; release?: number }> {
    const alias = validateAlias(aliasInput ?? DEFAULT_ALIASES[addon.kind]);
    if (addon.port === 0) {
      throw new ConflictError(
        `add-on '${addon.name}' is still being created`,
        ErrorCodes.ADDON_EXISTS,
      );
    }
    const existing = await this.#state.attachments({ addonId: addon.id, appId: app.id });
    if (existing.length > 0) {
      throw new ConflictError(
        `add-on '${addon.name}' is attached to app '${app.name}' already, as ${existing[0]?.alias ?? alias}`,
        ErrorCodes.ADDON_ATTACHED,
      );
    }
    await this.#requireFreeAlias(app, alias);
    const attachment = {
      addonId: addon.id,
      appId: app.id,
      alias,
      createdAt: this.#clock().toISOString(),
    };
    try {
      await this.#state.attach(attachment);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // A concurrent attach got there first; say which rule it broke.
      await this.#requireFreeAlias(app, alias);
      throw new ConflictError(
        `add-on '${addon.name}' is attached to app '${app.name}' already`,
        ErrorCodes.ADDON_ATTACHED,
      );
    }
    await this.#connect(addon, app);
    const release = await this.#rollRelease(app.id);
    return {
      attachment: { ...attachment, addonName: addon.name },
      ...(release === undefined ? {} : { release }),
    };
  }

  /**
   * A deploy's berth.json asks for add-ons: each alias the app has attached already is
   * reused (an add-on of another kind under it is an error); one whose `<as>_URL` is a config
   * var of the app is left to that var; any other is made (`<app>-<kind>`, or with its alias)
   * and attached without a release of its own: the deploy's release will carry it.
   */
  async ensureDeclared(
    app: App,
    declared: readonly { readonly kind: AddonKind; readonly as: string }[],
    log: (line: string) => void,
  ): Promise<void> {
    if (declared.length === 0) return;
    const attached = await this.#state.attachments({ appId: app.id });
    const configKeys = await this.#apps.configKeys(app.id);
    const addons = new Map((await this.#state.list()).map((a) => [a.id, a]));
    for (const { kind, as } of declared) {
      const variable = attachmentVariable(as);
      const found = attached.find((a) => a.alias === as);
      if (found) {
        const addon = addons.get(found.addonId);
        if (addon && addon.kind !== kind) {
          throw new ConflictError(
            `berth.json asks for a ${kind} add-on as ${variable}, and ${variable} is add-on '${addon.name}', a ${addon.kind}: detach it or name another alias`,
            ErrorCodes.ADDON_ALIAS_TAKEN,
          );
        }
        log(`add-on ${found.addonName} (${kind}) is attached as ${variable}: kept`);
        continue;
      }
      if (configKeys.includes(variable)) {
        log(`${variable} is a config var of the app: berth.json's ${kind} add-on is not made`);
        continue;
      }
      const preferred =
        as === DEFAULT_ALIASES[kind]
          ? `${app.name}-${kind}`
          : `${app.name}-${as.toLowerCase().replace(/_/g, '-')}`;
      const name =
        preferred.length <= 39 &&
        /^[a-z][a-z0-9-]*[a-z0-9]$/.test(preferred) &&
        !(await this.#state.findByName(preferred))
          ? preferred
          : `${kind}-${randomBytes(3).toString('hex')}`;
      const { addon } = await this.create(app.ownerId, { kind, name });
      await this.#attachQuietly(addon, app, as);
      log(`made ${kind} add-on ${addon.name} and attached it as ${variable}`);
    }
  }

  /** Attaches without rolling a release: the caller's own release will carry the variable. */
  async #attachQuietly(addon: Addon, app: App, alias: string): Promise<void> {
    await this.#requireFreeAlias(app, alias);
    await this.#state.attach({
      addonId: addon.id,
      appId: app.id,
      alias,
      createdAt: this.#clock().toISOString(),
    });
    await this.#connect(addon, app);
  }

  /** Detaches the add-on from the app and rolls the app a release without its variable. */
  async detach(addon: Addon, app: App): Promise<{ release?: number }> {
    if (!(await this.#state.detach(addon.id, app.id))) {
      throw new NotFoundError(
        `add-on '${addon.name}' is not attached to app '${app.name}'`,
        ErrorCodes.ADDON_NOT_ATTACHED,
      );
    }
    const release = await this.#rollRelease(app.id);
    // After the release without its variable is out: no unit of the new release needs it.
    await this.#disconnect(addon, app.name);
    return release === undefined ? {} : { release };
  }

  /**
   * Destroys the add-on and its data, when `confirm` repeats its name and no app has it
   * attached. The only way an add-on's data goes.
   */
  async destroy(addon: Addon, confirm: string | undefined): Promise<void> {
    this.requireConfirmation(addon, confirm, 'destroying');
    await this.#destroy(addon);
  }

  /** InputError (CONFIRMATION_REQUIRED) unless `confirm` repeats the add-on's name. */
  requireConfirmation(addon: Addon, confirm: string | undefined, doing: string): void {
    if (confirm !== addon.name) {
      throw new InputError(
        `${doing} add-on '${addon.name}' cannot be undone: confirm with its name (--confirm ${addon.name})`,
        ErrorCodes.CONFIRMATION_REQUIRED,
      );
    }
  }

  /** The add-on named `name`, or undefined. */
  async find(name: string): Promise<Addon | undefined> {
    return /^[a-z][a-z0-9-]{0,38}$/.test(name) ? this.#state.findByName(name) : undefined;
  }

  async #destroy(addon: Addon): Promise<void> {
    await this.#requireDetached(addon);
    // The row first: once it is gone no release gets the URL, and the data goes after it.
    const outcome = await this.#state.delete(addon.id);
    if (outcome === 'attached') await this.#requireDetached(addon);
    if (outcome === 'absent') throw addonNotFound(addon.name);
    await this.#servers?.destroy(addon.name);
    await rm(this.#backupDir(addon), { recursive: true, force: true });
    this.#logger.info({ addon: addon.name }, 'add-on destroyed, with its backups');
  }

  async #requireDetached(addon: Addon): Promise<void> {
    const attached = await this.#state.attachments({ addonId: addon.id });
    if (attached.length === 0) return;
    const names = await Promise.all(
      attached.map(async (a) => (await this.#apps.findById(a.appId))?.name ?? a.appId),
    );
    throw new ConflictError(
      `add-on '${addon.name}' is attached to ${names.map((n) => `'${n}'`).join(', ')}; detach it first`,
      ErrorCodes.ADDON_ATTACHED,
    );
  }

  /**
   * Before an app is destroyed: refuses while add-ons are attached, unless `withAddons`, which
   * destroys the add-ons attached to this app only and detaches the shared ones.
   */
  async beforeAppDestroyed(app: App, withAddons: boolean): Promise<void> {
    const attached = await this.#state.attachments({ appId: app.id });
    if (attached.length === 0) return;
    if (!withAddons) {
      throw new ConflictError(
        `app '${app.name}' has add-ons attached (${attached.map((a) => a.addonName).join(', ')}); detach them first or destroy it --with-addons`,
        ErrorCodes.ADDON_ATTACHED,
      );
    }
    for (const attachment of attached) {
      const addon = await this.#state.findByName(attachment.addonName);
      await this.#state.detach(attachment.addonId, app.id);
      if (!addon) continue;
      await this.#disconnect(addon, app.name);
      if ((await this.#state.attachments({ addonId: addon.id })).length === 0) {
        await this.#destroy(addon);
      }
    }
  }

  #backupDir(addon: Addon): string {
    return path.join(this.#backupsDir, addon.name);
  }

  #backupFile(addon: Addon, backup: AddonBackup): string {
    return path.join(this.#backupDir(addon), `${backup.name}.${BACKUP_EXTENSIONS[backup.kind]}`);
  }

  async #spec(addon: Addon): Promise<AddonServerSpec> {
    const attached = await this.#state.attachments({ addonId: addon.id });
    const apps = await Promise.all(attached.map((a) => this.#apps.findById(a.appId)));
    return {
      name: addon.name,
      kind: addon.kind,
      uid: addon.uid,
      credentials: await this.#credentialsOf(addon),
      apps: apps.flatMap((app) => (app ? [app.name] : [])),
    };
  }

  /** Makes the attached add-on reachable from the app's units; undoes the row if it cannot. */
  async #connect(addon: Addon, app: App): Promise<void> {
    try {
      await this.#servers?.attached?.(addon.name, app.name);
    } catch (error) {
      await this.#state.detach(addon.id, app.id);
      throw error;
    }
  }

  /** The runtime's side of a detach; a failure is logged, the row is gone already. */
  async #disconnect(addon: Addon, appName: string): Promise<void> {
    await this.#servers?.detached?.(addon.name, appName).catch((error: unknown) => {
      this.#logger.warn({ err: error, addon: addon.name, app: appName }, 'could not detach');
    });
  }

  /** Runs `work` unless a backup or a restore of the add-on runs here already. */
  async #exclusive<T>(addon: Addon, work: () => Promise<T>): Promise<T> {
    const running = (await this.#state.backups(addon.id)).find((b) => b.status === 'running');
    if (this.#busy.has(addon.id) || running) {
      throw new ConflictError(
        `a backup or restore of add-on '${addon.name}' is running; wait for it`,
        ErrorCodes.BACKUP_RUNNING,
      );
    }
    this.#busy.add(addon.id);
    try {
      return await work();
    } finally {
      this.#busy.delete(addon.id);
    }
  }

  /**
   * Backs the add-on up: a dump streamed into a file, checked readable (pg_restore --list,
   * redis-check-rdb) and summed before it counts. One that fails is recorded as failed, logged,
   * and rejected with BACKUP_FAILED: never reported as a success.
   */
  async backup(addon: Addon, slot?: Date): Promise<AddonBackup> {
    const servers = await this.#serversFor(addon.kind);
    return this.#exclusive(addon, async () => {
      const now = this.#clock();
      // A scheduled backup is named by its slot, so that of two controllers only one makes it.
      const name = slot ? `s-${compactTime(slot)}` : `b-${compactTime(now)}`;
      const backup: AddonBackup = {
        id: randomUUID(),
        addonId: addon.id,
        name,
        kind: addon.kind,
        status: 'running',
        sizeBytes: null,
        sha256: null,
        error: null,
        createdAt: now.toISOString(),
        finishedAt: null,
      };
      try {
        await this.#state.insertBackup(backup);
      } catch (error) {
        if (slot && isUniqueViolation(error)) return backup;
        throw error;
      }
      const file = this.#backupFile(addon, backup);
      const partial = `${file}.partial`;
      try {
        await mkdir(this.#backupDir(addon), { recursive: true, mode: 0o700 });
        const spec = await this.#spec(addon);
        await servers.backup(spec, addon.port, partial);
        const problem = await servers.checkBackup(spec, partial);
        if (problem !== undefined) throw new Error(`the backup is not readable: ${problem}`);
        const { size, sha256 } = await digest(partial);
        await rename(partial, file);
        const done = {
          status: 'succeeded' as const,
          sizeBytes: size,
          sha256,
          error: null,
          finishedAt: this.#clock().toISOString(),
        };
        await this.#state.finishBackup(backup.id, done);
        this.#logger.info({ addon: addon.name, backup: backup.name, bytes: size }, 'backup made');
        return { ...backup, ...done };
      } catch (error) {
        await rm(partial, { force: true });
        const reason = (error as Error).message;
        await this.#state.finishBackup(backup.id, {
          status: 'failed',
          sizeBytes: null,
          sha256: null,
          error: reason,
          finishedAt: this.#clock().toISOString(),
        });
        this.#logger.error({ addon: addon.name, backup: backup.name, reason }, 'backup failed');
        throw new UnavailableError(
          `backup ${backup.name} of add-on '${addon.name}' failed: ${reason}`,
          undefined,
          ErrorCodes.BACKUP_FAILED,
        );
      }
    });
  }

  /** The add-on's backups, newest first, failed ones too. */
  backups(addon: Addon): Promise<AddonBackup[]> {
    return this.#state.backups(addon.id);
  }

  /** A succeeded backup of the add-on and its file; NotFoundError (BACKUP_NOT_FOUND) otherwise. */
  async backupFile(addon: Addon, name: string): Promise<{ backup: AddonBackup; file: string }> {
    const backup = (await this.#state.backups(addon.id)).find(
      (b) => b.name === name && b.status === 'succeeded',
    );
    if (!backup) {
      throw new NotFoundError(
        `add-on '${addon.name}' has no backup '${name.slice(0, 64)}' that succeeded`,
        ErrorCodes.BACKUP_NOT_FOUND,
      );
    }
    return { backup, file: this.#backupFile(addon, backup) };
  }

  /**
   * Restores backup `name` of `source` into `target` (the same add-on, or another of its
   * kind). The file must still match the size and checksum taken when it was made and read as
   * a backup of that kind; otherwise nothing is restored (BACKUP_CORRUPT, BACKUP_FOREIGN).
   */
  async restore(source: Addon, name: string, target: Addon): Promise<AddonBackup> {
    const { backup, file } = await this.backupFile(source, name);
    if (backup.kind !== target.kind) {
      throw new InputError(
        `backup ${backup.name} is of a ${backup.kind} add-on; '${target.name}' is ${target.kind}: nothing was restored`,
        ErrorCodes.BACKUP_FOREIGN,
      );
    }
    const servers = await this.#serversFor(target.kind);
    const { size, sha256 } = await digest(file).catch(() => ({ size: -1, sha256: '' }));
    if (size !== backup.sizeBytes || sha256 !== backup.sha256) {
      throw new InputError(
        `backup ${backup.name} does not match what it was when it was made (${backup.sizeBytes ?? 0} bytes, sha256 ${backup.sha256?.slice(0, 12) ?? '?'}…; now ${Math.max(size, 0)} bytes): it was changed or cut short, so nothing was restored`,
        ErrorCodes.BACKUP_CORRUPT,
      );
    }
    const targetSpec = await this.#spec(target);
    const problem = await servers.checkBackup(targetSpec, file);
    if (problem !== undefined) {
      throw new InputError(
        `backup ${backup.name} cannot be read (${problem}): nothing was restored`,
        ErrorCodes.BACKUP_CORRUPT,
      );
    }
    await this.#exclusive(target, async () => {
      try {
        await servers.restore(targetSpec, target.port, file);
      } catch (error) {
        this.#logger.error(
          { addon: target.name, backup: backup.name, reason: (error as Error).message },
          'restore failed; the data is as it was',
        );
        throw new UnavailableError(
          `restoring ${backup.name} into '${target.name}' failed, and its data is as it was: ${(error as Error).message}`,
          undefined,
          ErrorCodes.BACKUP_FAILED,
        );
      }
    });
    this.#logger.info(
      { addon: target.name, from: source.name, backup: backup.name },
      'backup restored',
    );
    return backup;
  }

  /**
   * Backs the add-on up by itself on `expression` (UTC), keeping the newest `retain`
   * succeeded backups; null turns it off. InputError for a schedule or count it cannot use.
   */
  async setBackupSchedule(
    addon: Addon,
    expression: string | null,
    retain: number | undefined,
  ): Promise<AddonBackupSchedule | null> {
    if (expression === null) {
      await this.#state.setBackupSchedule(addon.id, null);
      return null;
    }
    parseBackupSchedule(expression).next(this.#clock());
    const schedule = {
      expression,
      retain: validateRetain(retain ?? 7),
      since: this.#clock().toISOString(),
    };
    await this.#state.setBackupSchedule(addon.id, schedule);
    return schedule;
  }

  /** When the add-on's next scheduled backup is due, or undefined without a schedule. */
  async nextScheduledBackup(addon: Addon): Promise<Date | undefined> {
    const schedule = addon.backupSchedule;
    if (!schedule) return undefined;
    return parseBackupSchedule(schedule.expression).next(await this.#lastSlot(addon, schedule));
  }

  /** The newest scheduled backup's slot, or when the schedule was set. */
  async #lastSlot(addon: Addon, schedule: AddonBackupSchedule): Promise<Date> {
    const newest = (await this.#state.backups(addon.id)).find((b) => b.name.startsWith('s-'));
    const since = new Date(schedule.since);
    if (!newest) return since;
    const slot = new Date(
      newest.name
        .slice(2)
        .replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/, '$1-$2-$3T$4:$5:$6.$7Z'),
    );
    return Number.isNaN(slot.getTime()) || slot < since ? since : slot;
  }

  /**
   * The scheduled-backups worker's pass: each add-on whose next slot has come is backed up
   * once for the latest slot due (missed slots are not made up one by one), then its backups
   * beyond the schedule's `retain` are removed. Resolves with the earliest slot still ahead.
   * A backup that fails is recorded and logged by `backup`, and the pass goes on.
   */
  async runScheduledBackups(): Promise<Date | undefined> {
    let earliest: Date | undefined;
    for (const addon of await this.#state.list()) {
      const schedule = addon.backupSchedule;
      if (!schedule || addon.port === 0) continue;
      const parsed = parseBackupSchedule(schedule.expression);
      const now = this.#clock();
      let due = parsed.next(await this.#lastSlot(addon, schedule));
      if (due <= now) {
        for (let next = parsed.next(due); next <= now; next = parsed.next(due)) due = next;
        try {
          await this.backup(addon, due);
        } catch (error) {
          if (!(error instanceof BerthError)) throw error;
          // Recorded and logged as failed (or another backup of it runs): the next slot tries.
        }
        await this.#prune(addon, schedule.retain);
        due = parsed.next(due);
      }
      if (earliest === undefined || due < earliest) earliest = due;
    }
    return earliest;
  }

  /** Keeps the newest `retain` succeeded backups and the failed ones since the oldest kept. */
  async #prune(addon: Addon, retain: number): Promise<void> {
    const backups = await this.#state.backups(addon.id);
    const succeeded = backups.filter((b) => b.status === 'succeeded');
    const oldestKept = succeeded[Math.min(retain, succeeded.length) - 1];
    for (const backup of backups) {
      if (backup.status === 'running') continue;
      const keep =
        backup.status === 'succeeded'
          ? succeeded.indexOf(backup) < retain
          : oldestKept === undefined || backup.createdAt >= oldestKept.createdAt;
      if (keep) continue;
      await rm(this.#backupFile(addon, backup), { force: true });
      await this.#state.deleteBackup(backup.id);
      this.#logger.info({ addon: addon.name, backup: backup.name }, 'old backup removed');
    }
  }

  /**
   * `restore`: backup `name` of `source` into `source` itself (`confirm` repeats its name),
   * into the existing add-on `into` (`confirm` repeats that name; `authorize` checks the caller
   * may manage it), or into a new add-on `into` of the same kind, made for it and removed again
   * when the restore fails. The backup is checked before anything is made.
   */
  async restoreInto(request: {
    readonly source: Addon;
    readonly backup: string;
    readonly into?: string | undefined;
    readonly confirm?: string | undefined;
    readonly ownerId: string;
    readonly authorize: (name: string) => Promise<Addon>;
  }): Promise<{ target: Addon; backup: AddonBackup }> {
    const { source } = request;
    await this.backupFile(source, request.backup);
    const into = request.into ?? source.name;
    const existing = into === source.name ? source : await this.find(into);
    if (existing) {
      const target = existing === source ? source : await request.authorize(into);
      this.requireConfirmation(target, request.confirm, 'restoring into');
      return { target, backup: await this.restore(source, request.backup, target) };
    }
    const { addon: target } = await this.create(request.ownerId, { kind: source.kind, name: into });
    try {
      return { target, backup: await this.restore(source, request.backup, target) };
    } catch (error) {
      await this.#destroy(target).catch((cleanup: unknown) => {
        this.#logger.warn({ err: cleanup, addon: target.name }, 'could not remove a new add-on');
      });
      throw error;
    }
  }

  /**
   * At controller start: removes what crashed creations left (a row without a port), and
   * starts (or adopts) the server of every add-on. One that fails is logged and left to the
   * next start; the others still start.
   */
  async start(): Promise<void> {
    const servers = this.#servers;
    if (!servers) return;
    await this.#state.failRunningBackups(
      'cut off: the controller stopped while it ran',
      this.#clock().toISOString(),
    );
    for (const addon of await this.#state.list()) {
      try {
        if (addon.port === 0) {
          this.#logger.warn({ addon: addon.name }, 'removing an add-on whose creation was cut off');
          await servers.destroy(addon.name);
          await this.#state.delete(addon.id);
          continue;
        }
        const credentials = await this.#credentialsOf(addon);
        await servers.ensureRunning(
          { name: addon.name, kind: addon.kind, uid: addon.uid, credentials },
          addon.port,
        );
      } catch (error) {
        this.#logger.error({ err: error, addon: addon.name }, 'could not start an add-on');
      }
    }
  }
}
