import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Keeps apps' networks from reaching each other. The engine's own isolation is the first wall
 * (Docker's isolation chains, Podman's isolate=true), but Podman 4.3 with netavark 1.4 loses
 * it: tearing down any container of an isolated network deletes the FORWARD jump to netavark's
 * isolation chain for every network, and a unit of one app then reaches another's container
 * by its address (seen in test/deploy/container-isolation.test.ts).
 */
export interface NetworkGuard {
  /** Blocks traffic between `subnet` and the other guarded subnets; idempotent. */
  protect(subnet: string): Promise<void>;
  /** Drops the subnet's rules (its network is gone); idempotent. */
  release(subnet: string): Promise<void>;
}

/** The chains Berth owns in the raw table; nothing else of the host's firewall is touched. */
export const GUARD_CHAINS = Object.freeze({
  /** Jumped to from PREROUTING: per app subnet, same-subnet traffic returns, the rest is checked. */
  isolation: 'BERTH-ISOLATION',
  /** Drops what comes from an app subnet and goes to any app subnet (its own returned before). */
  toApps: 'BERTH-TO-APPS',
});

const SUBNET = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/**
 * The guard as iptables rules of the host the engine runs on (a local rootful engine): in the
 * raw table, PREROUTING jumps to BERTH-ISOLATION, which for each app subnet S returns traffic
 * from S to S and sends the rest from S to BERTH-TO-APPS, which drops it when it goes to any
 * app subnet. The raw table is seen before routing and before the filter table, where the
 * engine's own ACCEPT rules for its bridges sit, and no engine writes to it, so their order
 * cannot undo it. Traffic from an app to the internet, and published ports, are untouched.
 * Rules are checked before they are added (`-C`), and iptables' lock is waited for (`-w`), so
 * several controllers on one host can share the chains. Every call is an argument vector.
 */
export class IptablesNetworkGuard implements NetworkGuard {
  readonly #iptables: string;
  #ready: Promise<void> | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: { readonly iptables?: string } = {}) {
    this.#iptables = options.iptables ?? 'iptables';
  }

  /** The guard, when iptables answers here as root; undefined otherwise (rootless, no iptables). */
  static async ifAvailable(): Promise<IptablesNetworkGuard | undefined> {
    if (process.getuid?.() !== 0) return undefined;
    const guard = new IptablesNetworkGuard();
    try {
      await guard.#ensureChains();
      return guard;
    } catch {
      return undefined;
    }
  }

  async protect(subnet: string): Promise<void> {
    checkSubnet(subnet);
    return await this.#serially(() => this.#protect(subnet));
  }

  async release(subnet: string): Promise<void> {
    checkSubnet(subnet);
    return await this.#serially(() => this.#release(subnet));
  }

  /**
   * One change at a time: a check (-C) and the add that follows it are not atomic, and two
   * starts of one app would add a rule twice. (Two controllers still can; release removes
   * every copy.)
   */
  #serially(change: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(change);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #protect(subnet: string): Promise<void> {
    await this.#ensureChains();
    const { isolation, toApps } = GUARD_CHAINS;
    // The RETURN first: it must precede the subnet's jump in the chain.
    await this.#ensureRule(isolation, ['-s', subnet, '-d', subnet, '-j', 'RETURN']);
    await this.#ensureRule(isolation, ['-s', subnet, '-j', toApps]);
    await this.#ensureRule(toApps, ['-d', subnet, '-j', 'DROP']);
  }

  async #release(subnet: string): Promise<void> {
    const { isolation, toApps } = GUARD_CHAINS;
    for (const [chain, rule] of [
      [isolation, ['-s', subnet, '-j', toApps]],
      [isolation, ['-s', subnet, '-d', subnet, '-j', 'RETURN']],
      [toApps, ['-d', subnet, '-j', 'DROP']],
    ] as const) {
      while (await this.#has(chain, rule)) await this.#iptablesRun(['-D', chain, ...rule]);
    }
  }

  #ensureChains(): Promise<void> {
    this.#ready ??= (async () => {
      for (const chain of [GUARD_CHAINS.toApps, GUARD_CHAINS.isolation]) {
        // Another controller may make it first: "Chain already exists" is success.
        await this.#iptablesRun(['-N', chain]).catch(async (error: unknown) => {
          if (!(await this.#chainExists(chain))) throw error;
        });
      }
      if (!(await this.#has('PREROUTING', ['-j', GUARD_CHAINS.isolation]))) {
        await this.#iptablesRun(['-I', 'PREROUTING', '1', '-j', GUARD_CHAINS.isolation]);
      }
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #ensureRule(chain: string, rule: readonly string[]): Promise<void> {
    if (!(await this.#has(chain, rule))) await this.#iptablesRun(['-A', chain, ...rule]);
  }

  async #has(chain: string, rule: readonly string[]): Promise<boolean> {
    return this.#iptablesRun(['-C', chain, ...rule]).then(
      () => true,
      () => false,
    );
  }

  async #chainExists(chain: string): Promise<boolean> {
    return this.#iptablesRun(['-S', chain]).then(
      () => true,
      () => false,
    );
  }

  async #iptablesRun(args: readonly string[]): Promise<void> {
    await run(this.#iptables, ['-w', '-t', 'raw', ...args], { timeout: 10_000 });
  }
}

function checkSubnet(subnet: string): void {
  if (!SUBNET.test(subnet)) throw new TypeError(`'${subnet}' is not an IPv4 subnet`);
}
