// The change stream's two promises, on SQLite and on PostgreSQL: a commit reaches a watcher
// within milliseconds, and a burst of row changes is delivered at tens of thousands per second.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChangeStream, KeysWatcher, Subscription, WatcherHub } from '../src/changes/index.js';
import { silentLogger } from '../src/logging/index.js';
import { openStore, type AppTable, type DialectName, type Store } from '../src/store/index.js';
import { compiledDefaults } from '../test/support/compiled-defaults.js';
import { percentile, round, tableLines, verdict } from './figures.js';
// The same private cluster the tests start, so the bench needs no PostgreSQL setup either.
import { withPostgresServer } from './postgres-databases.js';

const WARMUP_COMMITS = 100;
const MEASURED_COMMITS = 2_000;
const BURST_ROWS = 100_000;
const ROWS_PER_TRANSACTION = 1_000;
/** Generous bounds so a lost event fails the run instead of hanging it. */
const KEY_TIMEOUT_MS = 10_000;
const BURST_TIMEOUT_MS = 60_000;

/** What the brief asks of the stream; printed beside the figures, never asserted. */
const targets = Object.freeze({
  p99Ms: Object.freeze({ sqlite: 10, postgres: 25 } satisfies Record<DialectName, number>),
  eventsPerSec: 50_000,
});

/** The figures of one backend. Times are milliseconds. */
export interface BackendFigures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The stream's delivery rate: a committed backlog of the burst read and dispatched. */
  readonly eventsPerSec: number;
  /** The burst written while the stream runs beside the writer: bound by the writer. */
  readonly liveEventsPerSec: number;
  /** How long the writer took to commit the burst, while the stream ran beside it. */
  readonly writeMs: number;
  /** From the burst's first write until the subscriber held every key. */
  readonly deliverMs: number;
}

/** The benchmark's result, as printed by `--json`. */
export type ChangesFigures = Readonly<Record<DialectName, BackendFigures>>;

/** Records when each key first reaches a consumer and lets the writer wait for it. */
class Arrivals {
  readonly #seen = new Map<string, number>();
  #lastAt = 0;
  #failure: Error | undefined;
  #waiter: { check: () => void; fail: (error: Error) => void } | undefined;

  get count(): number {
    return this.#seen.size;
  }

  record(keys: Iterable<string>): void {
    const at = performance.now();
    for (const key of keys) if (!this.#seen.has(key)) this.#seen.set(key, at);
    this.#lastAt = at;
    this.#waiter?.check();
  }

  fail(error: Error): void {
    this.#failure = error;
    this.#waiter?.fail(error);
  }

  /** Resolves with the time `key` arrived. */
  waitForKey(key: string): Promise<number> {
    return this.#waitUntil(() => this.#seen.get(key), `key ${key}`, KEY_TIMEOUT_MS);
  }

  /** Resolves with the time the `count`-th distinct key arrived. */
  waitForCount(count: number): Promise<number> {
    const reached = () => (this.#seen.size >= count ? this.#lastAt : undefined);
    return this.#waitUntil(reached, `${count} keys`, BURST_TIMEOUT_MS);
  }

  #waitUntil(
    arrivedAt: () => number | undefined,
    what: string,
    timeoutMs: number,
  ): Promise<number> {
    const now = arrivedAt();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<number>((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        outcome();
      };
      const timer = setTimeout(() => {
        const error = new Error(
          `${what} did not arrive within ${timeoutMs} ms (${this.count} seen)`,
        );
        settle(() => reject(error));
      }, timeoutMs);
      this.#waiter = {
        check: () => {
          const at = arrivedAt();
          if (at !== undefined) settle(() => resolve(at));
        },
        fail: (error) => settle(() => reject(error)),
      };
    });
  }
}

/** Feeds a watcher's batches into `arrivals` until the watcher ends. */
async function consume<T>(
  source: AsyncIterable<T>,
  keysOf: (batch: T) => Iterable<string>,
  arrivals: Arrivals,
): Promise<void> {
  try {
    for await (const batch of source) arrivals.record(keysOf(batch));
  } catch (error) {
    arrivals.fail(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The user that owns the benchmark's apps. */
const BENCH_USER_ID = 'bench-user';

function appRow(id: string): AppTable {
  const now = new Date().toISOString();
  return { id, name: id, owner_id: BENCH_USER_ID, created_at: now, updated_at: now };
}

/** Commits one row at a time and times each from before `transact` until a watcher has it. */
async function measureLatency(store: Store, hub: WatcherHub): Promise<readonly number[]> {
  const arrivals = new Arrivals();
  const watcher = new KeysWatcher(hub, {
    filters: [{ namespace: 'apps' }],
    initial: () => Promise.resolve([]),
  });
  const consuming = consume(watcher, (keys) => keys, arrivals);
  const samples: number[] = [];
  try {
    for (let i = 0; i < WARMUP_COMMITS + MEASURED_COMMITS; i++) {
      const row = appRow(`latency-${i}`);
      const started = performance.now();
      await store.transact((tx) => tx.insertInto('apps').values(row).execute());
      const arrived = await arrivals.waitForKey(row.id);
      if (i >= WARMUP_COMMITS) samples.push(arrived - started);
    }
  } finally {
    watcher.close();
    await consuming;
  }
  return samples.sort((a, b) => a - b);
}

/** Writes the burst in multi-row transactions and times it until a subscriber has every key. */
async function measureBurst(store: Store, hub: WatcherHub) {
  const transactions: AppTable[][] = [];
  for (let first = 0; first < BURST_ROWS; first += ROWS_PER_TRANSACTION) {
    const count = Math.min(ROWS_PER_TRANSACTION, BURST_ROWS - first);
    transactions.push(Array.from({ length: count }, (_, i) => appRow(`burst-${first + i}`)));
  }
  const arrivals = new Arrivals();
  // Far above the burst, so a consumer that lags during the writes is not evicted.
  const subscription = new Subscription(hub, {
    filters: [{ namespace: 'apps' }],
    bufferLimit: 2 * BURST_ROWS,
  });
  const consuming = consume(subscription, (batch) => batch.map((e) => e.changed), arrivals);
  try {
    const started = performance.now();
    for (const rows of transactions) {
      await store.transact((tx) => tx.insertInto('apps').values(rows).execute());
    }
    const written = performance.now();
    const delivered = await arrivals.waitForCount(BURST_ROWS);
    return { writeMs: written - started, deliverMs: delivered - started };
  } finally {
    subscription.close();
    await consuming;
  }
}

/**
 * The stream's own throughput: commits the burst while a reader stands still, then times that
 * reader delivering the whole backlog to a subscriber.
 */
async function measureBacklog(store: Store): Promise<number> {
  const hub = new WatcherHub();
  const reader = new ChangeStream({
    store,
    hub,
    logger: silentLogger(),
    readerId: 'bench-backlog',
    ...compiledDefaults.changeStream,
  });
  await reader.open();
  const subscription = new Subscription(hub, {
    filters: [{ namespace: 'apps' }],
    bufferLimit: 2 * BURST_ROWS,
  });
  try {
    for (let first = 0; first < BURST_ROWS; first += ROWS_PER_TRANSACTION) {
      const rows = Array.from({ length: ROWS_PER_TRANSACTION }, (_, i) =>
        appRow(`backlog-${first + i}`),
      );
      await store.transact((tx) => tx.insertInto('apps').values(rows).execute());
    }
    const started = performance.now();
    const delivered = await reader.drain();
    const elapsed = performance.now() - started;
    if (delivered !== BURST_ROWS)
      throw new Error(`the backlog reader delivered ${delivered} events, not ${BURST_ROWS}`);
    return elapsed;
  } finally {
    subscription.close();
    await reader.stop();
  }
}

/** Runs the measurements against one fresh store with a running change stream. */
async function measureBackend(dataDir: string, databaseUrl: string | undefined) {
  const store = await openStore({ dataDir, databaseUrl });
  const now = new Date().toISOString();
  await store.db
    .insertInto('users')
    .values({
      id: BENCH_USER_ID,
      username: 'bench',
      password_hash: 'x',
      is_admin: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  const backlogMs = await measureBacklog(store);
  const hub = new WatcherHub();
  const stream = new ChangeStream({
    store,
    hub,
    logger: silentLogger(),
    ...compiledDefaults.changeStream,
  });
  try {
    await stream.start();
    const latencies = await measureLatency(store, hub);
    const burst = await measureBurst(store, hub);
    const figures: BackendFigures = {
      p50Ms: round(percentile(latencies, 0.5), 3),
      p99Ms: round(percentile(latencies, 0.99), 3),
      eventsPerSec: Math.round(BURST_ROWS / (backlogMs / 1_000)),
      liveEventsPerSec: Math.round(BURST_ROWS / (burst.deliverMs / 1_000)),
      writeMs: round(burst.writeMs, 1),
      deliverMs: round(burst.deliverMs, 1),
    };
    return figures;
  } finally {
    await stream.stop();
    await store.close();
  }
}

function formatTable(figures: ChangesFigures): string[] {
  const header = [
    'backend',
    'p50 ms',
    'p99 ms',
    'p99 target',
    'events/s',
    'target',
    'live events/s',
    'write ms',
    'deliver ms',
  ];
  const rows = (Object.entries(figures) as [DialectName, BackendFigures][]).map(([name, f]) => {
    const p99Target = targets.p99Ms[name];
    return [
      name,
      f.p50Ms.toFixed(2),
      f.p99Ms.toFixed(2),
      `<= ${p99Target} ${verdict(f.p99Ms <= p99Target)}`,
      f.eventsPerSec.toLocaleString('en-US'),
      `>= ${targets.eventsPerSec.toLocaleString('en-US')} ${verdict(f.eventsPerSec >= targets.eventsPerSec)}`,
      f.liveEventsPerSec.toLocaleString('en-US'),
      f.writeMs.toFixed(0),
      f.deliverMs.toFixed(0),
    ];
  });
  return [
    `changes: ${MEASURED_COMMITS} single-row commits (after ${WARMUP_COMMITS} warm-up), commit to watcher;`,
    `         ${BURST_ROWS.toLocaleString('en-US')} rows in ${ROWS_PER_TRANSACTION}-row transactions, first write to last key delivered`,
    ...tableLines(header, rows),
    'events/s: a committed backlog of the burst, read, coalesced and dispatched by one reader;',
    'live events/s: the burst written while the stream runs beside the writer (writer-bound);',
    'write ms: the writer alone during the live burst; deliver ms: first write to last key delivered',
  ];
}

/**
 * Measures commit-to-watcher latency and burst delivery on SQLite, then PostgreSQL, printing
 * progress to stderr and the table through `print`.
 */
export async function runChangesBench(print: (line: string) => void): Promise<ChangesFigures> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
  try {
    process.stderr.write('changes: measuring sqlite…\n');
    const sqlite = await measureBackend(dataDir, undefined);
    process.stderr.write('changes: measuring postgres…\n');
    const postgres = await withPostgresServer((server) =>
      server.withDatabase((url) => measureBackend(dataDir, url)),
    );
    const figures: ChangesFigures = { sqlite, postgres };
    for (const line of formatTable(figures)) print(line);
    return figures;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
