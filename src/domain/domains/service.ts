import { domainToASCII } from 'node:url';
import { changeTopic, type ChangeTopic } from '../../changes/index.js';
import { ConflictError, ErrorCodes, NotFoundError } from '../../errors/index.js';
import { parseCustomHost } from './hostname.js';

/** A custom host of an app. */
export interface AppDomain {
  /** Lower-case, punycode, no trailing dot; `*.example.com` for a wildcard. */
  readonly host: string;
  readonly wildcard: boolean;
  readonly appId: string;
  readonly appName: string;
  readonly createdAt: string;
}

/** What the domains service needs from the store. */
export interface DomainsState {
  /**
   * Inserts the host for the app unless some app holds it: then that app's id and name (which
   * may be the same app).
   */
  insert(row: {
    host: string;
    appId: string;
    createdAt: string;
  }): Promise<{ readonly appId: string; readonly appName: string } | undefined>;
  /** Every custom host, with its app's name, hosts in order. */
  list(): Promise<AppDomain[]>;
  ofApp(appId: string): Promise<AppDomain[]>;
  /** Deletes the app's host; false when the app has no such host. */
  remove(appId: string, host: string): Promise<boolean>;
  /** The namespace of the domains table, keyed by app id. Hosts go with their app. */
  readonly changesNamespace: string;
}

export interface DomainsServiceOptions {
  readonly state: DomainsState;
  /** Berth's own domain: `<app>.<domain>` names are Berth's and cannot be added. */
  readonly serverDomain: string;
  readonly clock?: () => Date;
}

/** The app a host is added to, and whether the caller may learn about another app. */
export interface DomainTarget {
  readonly id: string;
  readonly name: string;
}

/**
 * Custom domains: the hosts an app answers on besides `<app>.<domain>`. A host is one app's
 * (the store's key holds it under races); a wildcard covers one label and loses to an exact
 * host, which is the router's rule (route-table.ts).
 */
export class DomainsService {
  readonly #state: DomainsState;
  readonly #serverDomain: string;
  readonly #clock: () => Date;

  constructor(options: DomainsServiceOptions) {
    this.#state = options.state;
    this.#serverDomain = options.serverDomain;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Changes to any app's domains: what router sync pushes to the router. */
  changes(): ChangeTopic {
    return changeTopic(this.#state.changesNamespace);
  }

  /** Changes to one app's domains. */
  changesOf(appId: string): ChangeTopic {
    return changeTopic(this.#state.changesNamespace, appId);
  }

  /**
   * Adds `input` (normalised by parseCustomHost: InputError DOMAIN_INVALID) to the app. A host
   * the app holds already is no change. A host of another app is a ConflictError DOMAIN_TAKEN
   * that names that app only when `mayKnow` says the caller may see it.
   */
  async add(
    app: DomainTarget,
    input: string,
    mayKnow: (appId: string) => Promise<boolean>,
  ): Promise<AppDomain> {
    const { host, wildcard } = parseCustomHost(input, this.#serverDomain);
    const createdAt = this.#clock().toISOString();
    const holder = await this.#state.insert({ host, appId: app.id, createdAt });
    if (holder === undefined)
      return { host, wildcard, appId: app.id, appName: app.name, createdAt };
    if (holder.appId === app.id) {
      const existing = (await this.#state.ofApp(app.id)).find((d) => d.host === host);
      if (existing) return existing;
    }
    const who = (await mayKnow(holder.appId)) ? `app '${holder.appName}'` : 'another app';
    throw new ConflictError(`the host ${host} belongs to ${who}`, ErrorCodes.DOMAIN_TAKEN);
  }

  /** The app's hosts, in order. */
  ofApp(appId: string): Promise<AppDomain[]> {
    return this.#state.ofApp(appId);
  }

  /** Every app's hosts (router sync). */
  list(): Promise<AppDomain[]> {
    return this.#state.list();
  }

  /** Removes a host of the app; NotFoundError DOMAIN_NOT_FOUND when the app has no such host. */
  async remove(app: DomainTarget, input: string): Promise<void> {
    const host = normaliseForLookup(input);
    if (!(await this.#state.remove(app.id, host))) {
      throw new NotFoundError(
        `app '${app.name}' has no domain ${host.slice(0, 300)}`,
        ErrorCodes.DOMAIN_NOT_FOUND,
      );
    }
  }
}

/** The stored form of a host being removed; a name that could never be stored finds nothing. */
function normaliseForLookup(input: string): string {
  let name = input.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  const wildcard = name.startsWith('*.');
  const ascii = domainToAsciiOrSelf(wildcard ? name.slice(2) : name);
  return wildcard ? `*.${ascii}` : ascii;
}

function domainToAsciiOrSelf(name: string): string {
  const ascii = domainToASCII(name);
  return ascii === '' ? name : ascii;
}
