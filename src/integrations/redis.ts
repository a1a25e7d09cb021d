import { performance } from "node:perf_hooks";
import calculateSlot from "cluster-key-slot";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { z } from "zod";
import { assertCallId, assertLimits, assertNano, assertTtl, type BudgetStore, type LimitState, type StoreLimit } from "../budget/store.js";
import { parseOptions, positiveWhole } from "../validation.js";
import { CHECK, RELEASE, RESERVE, SETTLE, UNDO } from "./redis-scripts.js";
import { ReplicaWaits } from "./redis-replicas.js";
import { checkUnits, endUnits, reserveUnits, type RunScript, type Unit } from "./redis-units.js";

/** Options of {@link RedisBudgetStore}. */
export interface RedisBudgetStoreOptions {
  /** A Redis URL (`redis://host:6379/0`). Ignored when `client` is given. */
  url?: string;
  /**
   * The nodes of a Redis Cluster to start from (`[{ host: "10.0.0.1", port: 6379 }]`; the rest are
   * discovered): the store connects with an ioredis `Cluster`. Instead of `url`; ignored when `client` is given.
   */
  cluster?: Array<{ host: string; port: number }>;
  /**
   * Your own ioredis client: a `Redis`, or a `Cluster` for Redis Cluster. Its retry and timeout settings are
   * then yours too. Keep its `commandTimeout` unset or well above `timeoutMs`: it is a timer on this event
   * loop, so after a stall of this process it can fail a command whose reply is already waiting in the
   * socket. Leave `enableAutoPipelining` off: measured here, it lowers the store's throughput (ioredis already
   * writes concurrent commands back to back on one connection), and on a cluster ioredis 5–6 can keep holding
   * the commands of a slot whose primary died after the failover is over.
   */
  client?: Redis | Cluster;
  /** Prefix of every key the store writes. Default `"lcm:"`. */
  prefix?: string;
  /**
   * How long Redis may take to answer one store operation before it fails (and the call is refused, or
   * allowed, per policy). Time this process spends blocked (a busy event loop) doesn't count. Default 1000 ms.
   */
  timeoutMs?: number;
  /**
   * How long an ended (settled or released) call id, and the charge of an expired hold, is remembered, so a
   * retried settle counts once and a late settle corrects the charge. Default 24 hours.
   */
  settledTtlMs?: number;
  /**
   * How many replicas must have each hold and settlement before the store answers (Redis `WAIT`, at most
   * 100 ms): Redis replicates asynchronously, so a primary that fails over can take its last writes with it
   * (a settlement lost, a hold forgotten while its call runs). Default 1 on a Redis Cluster, 0 on one Redis.
   * Set 0 on a cluster without replicas. When fewer replicas answer in time, the store goes on, warns once,
   * and doesn't wait on that primary for 5 s (a replica just promoted has no replica of its own yet).
   */
  waitForReplicas?: number;
}

const redisStoreOptions = z
  .strictObject({
    url: z.string().min(1).optional(),
    cluster: z.array(z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65_535) })).min(1).optional(),
    client: z
      .custom<Redis | Cluster>((value) => typeof (value as Partial<Redis> | null)?.defineCommand === "function", {
        error: "Expected an ioredis client (new Redis(…) or new Cluster(…)); to connect by address, give `url` or `cluster` instead",
      })
      .optional(),
  prefix: z.string().optional(),
    timeoutMs: positiveWhole().optional(),
    settledTtlMs: positiveWhole().optional(),
    waitForReplicas: z.number().int().min(0).max(16).optional(),
  })
  .refine((options) => !(options.url && options.cluster), {
    error: "Give either `url` (one Redis) or `cluster` (the nodes of a Redis Cluster), not both",
    path: ["cluster"],
  });

type ScriptReply = Array<number | string>;

/** Each script under the command name it is defined as on the client. */
const SCRIPTS = { check: ["lcmCheck", CHECK], reserve: ["lcmReserve", RESERVE], undo: ["lcmUndo", UNDO], settle: ["lcmSettle", SETTLE], release: ["lcmRelease", RELEASE] } as const;

/** How often the store re-reads Redis' clock; windows roll over by it, so every worker agrees. */
const CLOCK_REFRESH_MS = 30_000;

/** The keys of one limit, in the order the scripts read them (see `redis-scripts.ts`). */
const LIMIT_KEY_SUFFIXES = ["", ":holds", ":exp", ":expired", ":expired:at"] as const;

/**
 * A `BudgetStore` on Redis or Redis Cluster, for quotas shared by a fleet of workers. Keeps the contract of
 * `BudgetStore`: spend is an integer count of nano-USD; expired holds are charged; window counters expire
 * after their window; a call ends once. On one Redis each check, hold and settlement is one Lua script over
 * all the limits of a call, atomic in Redis. On a Redis Cluster each limit's keys share a hash tag (one slot)
 * and a call's limits are composed slot by slot, so no limit is ever overspent (see `redis-units.ts` and the
 * README's "Stores" for the protocol and its failure cases). An operation Redis doesn't answer within
 * `timeoutMs` fails (the budget then fails closed, see `onStoreError`); put the store behind `storeGuard` so
 * an outage is refused at once instead of once per call.
 *
 * @example
 * ```ts
 * import { RedisBudgetStore } from "langchain-metered/redis";
 * const store = new RedisBudgetStore({ url: process.env.REDIS_URL });
 * // or, on a Redis Cluster: new RedisBudgetStore({ cluster: [{ host: "10.0.0.1", port: 6379 }] })
 * new BudgetCallbackHandler({ quotas: [{ key: "tenant:{tenant_id}", limitUsd: 500, window: "month" }], store });
 * ```
 */
export class RedisBudgetStore implements BudgetStore {
  /** The ioredis client, a `Redis` or a `Cluster` (close it with `close()`). */
  readonly client: Redis | Cluster;
  /** Whether the client is a Redis Cluster: each limit is then its own slot (hash-tagged keys). */
  private readonly clustered: boolean;
  /** Confirms writes on replicas (`waitForReplicas`); undefined when not asked to. */
  private readonly replicaWaits: ReplicaWaits | undefined;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly settledTtlMs: number;
  private clock: { offsetMs: number; readAt: number } | undefined;

  constructor(options: RedisBudgetStoreOptions = {}) {
    const parsed = parseOptions(redisStoreOptions, options, "RedisBudgetStore", "");
    this.prefix = parsed.prefix ?? "lcm:";
    this.timeoutMs = parsed.timeoutMs ?? 1000;
    this.settledTtlMs = parsed.settledTtlMs ?? 24 * 60 * 60 * 1000;
    this.client =
      parsed.client ??
      (parsed.cluster
        ? new Cluster(parsed.cluster, clusterFailFast(this.timeoutMs))
        : new Redis(parsed.url ?? "redis://127.0.0.1:6379", failFast(this.timeoutMs)));
    this.clustered = this.client.isCluster === true;
    const replicas = parsed.waitForReplicas ?? (this.clustered ? 1 : 0);
    this.replicaWaits = replicas > 0 ? new ReplicaWaits(replicas) : undefined;
    // Without a listener, ioredis reports a lost connection as an unhandled 'error' event.
    if (!options.client) this.client.on("error", () => {});
    // EVALSHA, falling back to EVAL when Redis hasn't seen a script yet (ioredis does the dance; on a
    // cluster, per node, so a promoted replica learns them on first use). On a cluster every unit is one
    // limit, so the key count is fixed: then the first argument is a key, which ioredis' auto-pipelining
    // needs to group commands by slot (it would take a leading key count for a key).
    for (const [kind, [name, lua]] of Object.entries(SCRIPTS)) {
      const numberOfKeys = LIMIT_KEY_SUFFIXES.length + (kind === "check" ? 0 : 1);
      this.client.defineCommand(name, this.clustered ? { lua, numberOfKeys } : { lua });
    }
  }

  /**
   * Redis' clock, as this process's clock plus an offset read with `TIME`. Only the first reading is
   * waited for: later ones refresh the offset in the background, so a Redis that went down doesn't slow
   * down working out a call's windows (the call's own store operations find the outage, fast).
   */
  async now(): Promise<number> {
    if (!this.clock) await this.readClock();
    else if (Date.now() - this.clock.readAt > CLOCK_REFRESH_MS && !this.clockRead) {
      this.clockRead = this.readClock().finally(() => (this.clockRead = undefined));
      this.clockRead.catch(() => {});
    }
    return Date.now() + (this.clock?.offsetMs ?? 0);
  }

  private clockRead: Promise<void> | undefined;

  private async readClock(): Promise<void> {
    const local = Date.now();
    const [seconds, micros] = await this.run(() => this.client.time());
    const after = Date.now();
    const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    // Whole milliseconds: the midpoint of two readings can fall on a half.
    this.clock = { offsetMs: Math.round(redisMs - (local + after) / 2), readAt: after };
  }

  async check(limits: readonly StoreLimit[]) {
    assertLimits(limits);
    // `check([])` is how a store guard probes the store: on a cluster (no unit to run a script on) it still
    // goes to Redis.
    if (this.clustered && limits.length === 0) await this.run(() => this.client.ping());
    return checkUnits(this.units(limits), limits.length, this.script);
  }

  async reserve(callId: string, limits: readonly StoreLimit[], amountNano: number, ttlMs: number) {
    assertCallId(callId);
    assertLimits(limits);
    assertNano("amountNano", amountNano);
    assertTtl(ttlMs);
    return reserveUnits(this.units(limits), limits.length, callId, amountNano, ttlMs, this.script);
  }

  async settle(callId: string, limits: readonly StoreLimit[], costNano: number): Promise<LimitState[]> {
    assertCallId(callId);
    assertLimits(limits);
    assertNano("costNano", costNano);
    return endUnits("settle", this.units(limits), limits.length, callId, costNano, this.script);
  }

  async release(callId: string, limits: readonly StoreLimit[]): Promise<void> {
    assertCallId(callId);
    assertLimits(limits);
    await endUnits("release", this.units(limits), limits.length, callId, 0, this.script);
  }

  /** Closes the connection without waiting for pending replies. */
  async close(): Promise<void> {
    this.client.disconnect();
  }

  /**
   * Claims `id` once across every worker on this Redis, until `expiresAt` (ms since epoch; for good without):
   * true for the first claimer only (`SET NX`). Budget alerts use it to fire once per window across a fleet.
   */
  async claimOnce(id: string, expiresAt: number | undefined): Promise<boolean> {
    const key = `${this.prefix}claim:${id}`;
    const ttl = expiresAt === undefined ? undefined : Math.max(1, Math.ceil(expiresAt - (await this.now())));
    const reply = await this.run(() => (ttl === undefined ? this.client.set(key, "1", "NX") : this.client.set(key, "1", "PX", ttl, "NX")));
    return reply === "OK";
  }

  /**
   * The atomic pieces of a decision over `limits` (see `redis-units.ts`). One Redis: one unit, every limit,
   * one marker per call. A cluster: a unit per limit, in key order, its keys and its marker of ended calls
   * under the limit's hash tag (`lcm:{tenant:acme:month:2026-11}:holds`), so each unit is one slot.
   */
  private units(limits: readonly StoreLimit[]): Unit[] {
    const entries = limits.map((limit, at) => ({ limit, at }));
    if (!this.clustered) {
      const keys = limits.flatMap(({ key }) => LIMIT_KEY_SUFFIXES.map((suffix) => `${this.prefix}${key}${suffix}`));
      return [{ limits: entries, keys, marker: (callId) => `${this.prefix}settled:${callId}` }];
    }
    return entries
      .sort((a, b) => (a.limit.key < b.limit.key ? -1 : a.limit.key > b.limit.key ? 1 : 0))
      .map((entry) => {
        const base = `${this.prefix}{${hashTag(entry.limit.key)}}`;
        return { limits: [entry], keys: LIMIT_KEY_SUFFIXES.map((suffix) => `${base}${suffix}`), marker: (callId) => `${base}:ended:${callId}` };
      });
  }

  /** Runs one of the scripts on one unit, with the scripts' common KEYS and ARGV (see `redis-scripts.ts`). */
  private readonly script: RunScript = (name, unit, callId, amountNano, ttlMs, extra = []) => {
    const keys = name === "check" ? unit.keys : [...unit.keys, unit.marker(callId)];
    // Every number as an integer string, so Lua never sees `1e+17`.
    const args = [String(this.settledTtlMs), callId, String(amountNano), String(ttlMs)];
    for (const { limit } of unit.limits) args.push(String(limit.limitNano), String(limit.expiresAt ?? 0));
    args.push(...extra);
    const command = (this.client as unknown as Record<string, (...a: Array<string | number>) => Promise<ScriptReply>>)[SCRIPTS[name][0]];
    if (!command) throw new Error(`RedisBudgetStore: script ${SCRIPTS[name][0]} is not defined on the client`);
    const writes = name !== "check" && !(name === "reserve" && ttlMs === 0);
    return this.run(async () => {
      const reply = await (this.clustered ? command.call(this.client, ...keys, ...args) : command.call(this.client, keys.length, ...keys, ...args));
      if (writes && this.replicaWaits) {
        // The connection the script went on: ioredis' primary for the unit's slot (one Redis: the client).
        const node = this.clustered ? primaryOf(this.client as Cluster, unit.keys[0]!) : (this.client as Redis);
        if (node) await this.replicaWaits.confirm(node);
      }
      return reply;
    });
  };

  /** One operation under the store's own deadline, whatever the client's settings. */
  private run<T>(operation: () => Promise<T>): Promise<T> {
    return withinStoreTime(operation(), this.timeoutMs, () => new Error(
      `Redis did not answer within ${this.timeoutMs} ms (timeoutMs; time this process was blocked not counted). ` +
        "Check that Redis is up and reachable, or raise timeoutMs.",
    ));
  }
}

/** The connection to the primary that serves `key`'s slot, by ioredis' current slot table. */
function primaryOf(cluster: Cluster, key: string): Redis | undefined {
  const owner = cluster.slots[calculateSlot(key)]?.[0];
  return owner === undefined ? undefined : cluster.nodes("master").find((node) => `${node.options.host}:${node.options.port}` === owner);
}

/**
 * The limit's key as a hash tag: Redis Cluster hashes only what is between the first `{` and the next `}`, so
 * every key of the limit lands in one slot. A key that starts with `}` would make an empty tag (the whole key
 * hashed, each of its keys in another slot), so it is refused.
 */
function hashTag(key: string): string {
  if (key.startsWith("}")) {
    throw new RangeError(`RedisBudgetStore: the quota key "${key}" starts with "}", which can't be a Redis Cluster hash tag. Start the quota's key with a fixed name (e.g. "tenant:{tenant_id}").`);
  }
  return key;
}

/** Timers this late (ms) measure a stalled event loop, not the store. Normal timer jitter stays below it. */
const LAG_TOLERANCE_MS = 15;

/** The deadline is watched in this many slices, so a stall anywhere in it is seen and not counted. */
const SLICES = 4;

/**
 * `work`, or `timeout()` once the store has had `timeoutMs` to answer. The deadline measures the store, not
 * this process:
 *
 * - a stall of this process's event loop (a CPU-bound task) is not counted: the deadline runs in slices, and
 *   the time by which a slice's timer fired late was time this process could not read a reply, so it is
 *   excluded (each slice still counts at least its own length, so the wait stays bounded: at most
 *   `timeoutMs` plus the stalls of `SLICES + 1` timers);
 * - before failing, pending I/O gets its turn: `setImmediate` runs after the poll phase, so a reply that
 *   arrived during the stall (and sits in the socket) is read, and wins, first.
 */
function withinStoreTime<T>(work: Promise<T>, timeoutMs: number, timeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let remaining = timeoutMs;
    const slice = Math.max(1, timeoutMs / SLICES);
    const arm = () => {
      const delay = Math.min(slice, remaining);
      const armedAt = performance.now();
      timer = setTimeout(() => {
        const late = performance.now() - armedAt - delay;
        remaining -= late > LAG_TOLERANCE_MS ? delay : delay + Math.max(0, late);
        setImmediate(() => {
          if (done) return;
          if (remaining > 0.5) return arm();
          done = true;
          reject(timeout());
        });
      }, delay);
    };
    arm();
    work.then(
      (value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * ioredis settings that make a dead Redis an error, not a queue that waits forever. The store's own deadline
 * (`withinStoreTime`) decides for the caller; ioredis' timeouts are timers on this event loop too, so after a
 * stall of this process they would fire before a reply (or a connection) already waiting in the socket is
 * read. Hence generous ones: they only free commands a frozen Redis never answers and end connection
 * attempts that hang.
 */
function failFast(timeoutMs: number): RedisOptions {
  const backstopMs = Math.max(10_000, 10 * timeoutMs);
  return {
    connectTimeout: backstopMs,
    commandTimeout: backstopMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
}

/**
 * The same for a Redis Cluster. ioredis follows `MOVED` and `ASK` and retries `TRYAGAIN` (a slot mid-migration)
 * and `CLUSTERDOWN` (a primary failing over) on its own; the store's deadline still decides for the caller.
 */
function clusterFailFast(timeoutMs: number): ClusterOptions {
  const { retryStrategy: _, ...node } = failFast(timeoutMs);
  return {
    redisOptions: node,
    enableOfflineQueue: true,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 50,
  };
}
