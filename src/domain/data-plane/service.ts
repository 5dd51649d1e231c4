/** A machine as the store knows it. */
export interface HostIdentity {
  /** Stable across restarts and renames: BERTH_HOST_ID, else /etc/machine-id, else the name. */
  readonly id: string;
  /** What people call it (os.hostname()), for messages. */
  readonly name: string;
}

/** The host the store's units live on, as the first controller recorded it. */
export interface DataPlaneHostRecord {
  readonly hostId: string;
  readonly hostName: string;
  readonly recordedAt: string;
}

/** One port a unit holds on a host. */
export interface UnitPortClaim {
  readonly hostId: string;
  readonly port: number;
  /** The runtime root that holds the unit: only it can tell that the unit is gone. */
  readonly owner: string;
  readonly unitId: string;
  readonly claimedAt: string;
}

/** What the data-plane service needs from the store. */
export interface DataPlaneState {
  host(): Promise<DataPlaneHostRecord | undefined>;
  /** Records `record` unless a host is recorded already; returns the record that holds. */
  recordHost(record: DataPlaneHostRecord): Promise<DataPlaneHostRecord>;
  /** Inserts the claim unless its port is claimed on its host; says whether it did. */
  insertClaim(claim: UnitPortClaim): Promise<boolean>;
  /** The ports from..to (inclusive) claimed on the host, by any owner. */
  claimedPorts(hostId: string, from: number, to: number): Promise<number[]>;
  claimsOf(hostId: string, owner: string): Promise<UnitPortClaim[]>;
  /** Deletes every claim of the unit. */
  deleteUnitClaims(hostId: string, owner: string, unitId: string): Promise<void>;
  /** Deletes this very claim: not one of another unit that took the port since. */
  deleteClaim(claim: UnitPortClaim): Promise<void>;
}

/**
 * How old a claim of a unit its runtime does not list must be before it is taken back. A unit
 * is listed from a moment after its port is claimed until it is stopped (the process runtime
 * gives a supervisor 10 s to record it; an engine creates a container in well under a
 * minute), so a younger claim may belong to a start still under way, on this controller or on
 * another one sharing the runtime root. Ten minutes is far beyond any start, and a claim left
 * behind costs one port of thousands until then.
 */
export const STALE_CLAIM_MS = 10 * 60_000;

/**
 * A controller started on a host the store's units do not live on. On the process and
 * container runtimes units listen on their host's loopback, where only that host's router
 * reaches them: a controller elsewhere would start units nobody can reach.
 */
export class DataPlaneElsewhereError extends Error {
  override readonly name = 'DataPlaneElsewhereError';
  readonly code = 'DATA_PLANE_ELSEWHERE';
  readonly recorded: DataPlaneHostRecord;
  readonly host: HostIdentity;

  constructor(recorded: DataPlaneHostRecord, host: HostIdentity) {
    super(
      `this store's units live on host ${recorded.hostName} (id ${recorded.hostId}), not on ` +
        `${host.name} (id ${host.id}): on the process and container runtimes every controller ` +
        `of a store runs on the host of its units, whose router alone reaches them. Start this ` +
        `controller on ${recorded.hostName}; to run apps on several hosts, use the Kubernetes ` +
        `runtime (--runtime kubernetes). If the units really moved here, set ` +
        `BERTH_HOST_ID=${recorded.hostId}`,
    );
    this.recorded = recorded;
    this.host = host;
  }
}

/**
 * A host's unit ports as one runtime root claims them: the shape the runtime's port allocator
 * takes (PortClaims in src/runtime/ports), bound to a host and an owner.
 */
export interface HostPortClaims {
  /** The ports of the range that any runtime on this host has claimed. */
  claimed(range: { readonly from: number; readonly to: number }): Promise<ReadonlySet<number>>;
  /** Claims `port` for `unitId`; false when the host already has a claim on it. */
  claim(port: number, unitId: string): Promise<boolean>;
  /** Lets go of the unit's claim of `port`, or of all its claims without one. */
  release(unitId: string, port?: number): Promise<void>;
  /**
   * Claims the ports this owner's units (id → port) hold without a claim: units started
   * before claims were kept. Only where no stop can be under way (a driver's init): a unit
   * listed before a stop and adopted after it would leave a claim of a unit gone.
   */
  adopt(units: ReadonlyMap<string, number>): Promise<void>;
  /**
   * Takes back this owner's claims of units that are gone or hold another port (`units` are
   * its units now), once older than STALE_CLAIM_MS: what a stop that could not reach the
   * store, or a controller killed mid-start, left behind.
   */
  reclaim(units: ReadonlyMap<string, number>): Promise<void>;
}

export interface DataPlaneServiceOptions {
  readonly state: DataPlaneState;
  readonly clock?: () => Date;
}

/**
 * What the store holds of the data plane's host: which host the units live on, and which of
 * its ports units hold. Several controllers of one store share that host (for the API's
 * availability, or to upgrade Berth one controller at a time); the per-host port claims keep
 * their allocators from handing one port to two units.
 */
export class DataPlaneService {
  readonly #state: DataPlaneState;
  readonly #clock: () => Date;

  constructor(options: DataPlaneServiceOptions) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The host recorded for the store's units, if a controller has started yet. */
  host(): Promise<DataPlaneHostRecord | undefined> {
    return this.#state.host();
  }

  /**
   * Records `host` as the one the units live on when none is, and refuses one that is not the
   * host recorded (DataPlaneElsewhereError). The first controller's host wins a race.
   */
  async attach(host: HostIdentity): Promise<DataPlaneHostRecord> {
    const recorded =
      (await this.#state.host()) ??
      (await this.#state.recordHost({
        hostId: host.id,
        hostName: host.name,
        recordedAt: this.#clock().toISOString(),
      }));
    if (recorded.hostId !== host.id) throw new DataPlaneElsewhereError(recorded, host);
    return recorded;
  }

  /** The port claims of the runtime root `owner` on `host`. */
  unitPorts(host: HostIdentity, owner: string): HostPortClaims {
    const state = this.#state;
    const clock = this.#clock;
    const claimOf = (port: number, unitId: string): UnitPortClaim => ({
      hostId: host.id,
      port,
      owner,
      unitId,
      claimedAt: clock().toISOString(),
    });
    return {
      async claimed(range) {
        return new Set(await state.claimedPorts(host.id, range.from, range.to));
      },
      claim: (port, unitId) => state.insertClaim(claimOf(port, unitId)),
      release: (unitId, port) =>
        port === undefined
          ? state.deleteUnitClaims(host.id, owner, unitId)
          : state.deleteClaim(claimOf(port, unitId)),
      async adopt(units) {
        const claims = await state.claimsOf(host.id, owner);
        const held = new Set(claims.map((claim) => `${claim.unitId}:${claim.port}`));
        for (const [unitId, port] of units) {
          // Lost to another owner's claim only where two units already share a port.
          if (!held.has(`${unitId}:${port}`)) await state.insertClaim(claimOf(port, unitId));
        }
      },
      async reclaim(units) {
        const staleBefore = clock().getTime() - STALE_CLAIM_MS;
        for (const claim of await state.claimsOf(host.id, owner)) {
          if (units.get(claim.unitId) === claim.port) continue;
          if (Date.parse(claim.claimedAt) < staleBefore) await state.deleteClaim(claim);
        }
      },
    };
  }
}
