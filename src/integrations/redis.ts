import { performance } from "node:perf_hooks";
import { Redis, type RedisOptions } from "ioredis";
import { z } from "zod";
import {
  assertCallId,
  assertLimits,
  assertNano,
  assertTtl,
  callEndedError,
  type BudgetStore,
  type LimitState,
  type Refusal,
  type StoreLimit,
} from "../budget/store.js";
import { parseOptions, positiveWhole } from "../validation.js";
import { CHECK, RELEASE, RESERVE, SETTLE } from "./redis-scripts.js";

/** Options of {@link RedisBudgetStore}. */
export interface RedisBudgetStoreOptions {
  /** A Redis URL (`redis://host:6379/0`). Ignored when `client` is given. */
  url?: string;
  /**
   * Your own ioredis client; its retry and timeout settings are then yours too. Keep its `commandTimeout`
   * unset or well above `timeoutMs`: it is a timer on this event loop, so after a stall of this process it can
   * fail a command whose reply is already waiting in the socket.
   */
  client?: Redis;
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
}

const redisStoreOptions = z.strictObject({
  url: z.string().min(1).optional(),
  client: z
    .custom<Redis>((value) => typeof (value as Partial<Redis> | null)?.defineCommand === "function", {
      error: "Expected an ioredis client (new Redis(…)); to connect by address, give `url` instead",
    })
    .optional(),
  prefix: z.string().optional(),
  timeoutMs: positiveWhole().optional(),
  settledTtlMs: positiveWhole().optional(),
});

type ScriptReply = Array<number | string>;

const SCRIPTS = { lcmCheck: CHECK, lcmReserve: RESERVE, lcmSettle: SETTLE, lcmRelease: RELEASE } as const;

/** How often the store re-reads Redis' clock; windows roll over by it, so every worker agrees. */
const CLOCK_REFRESH_MS = 30_000;

/** The keys of one limit, in the order the scripts read them (see `redis-scripts.ts`). */
const LIMIT_KEY_SUFFIXES = ["", ":holds", ":exp", ":expired", ":expired:at"] as const;

/**
 * A `BudgetStore` on Redis, for quotas shared by a fleet of workers. Keeps the contract of `BudgetStore`:
 * each check, hold and settlement is one Lua script over all the limits of a call, atomic in Redis; spend is
 * an integer count of nano-USD; expired holds are charged; window counters expire after their window; a call
 * ends once. An operation Redis doesn't answer within `timeoutMs` fails (the budget then fails closed, see
 * `onStoreError`); put the store behind `storeGuard` so an outage is refused at once instead of once per call.
 *
 * @example
 * ```ts
 * import { RedisBudgetStore } from "langchain-metered/redis";
 * const store = new RedisBudgetStore({ url: process.env.REDIS_URL });
 * new BudgetCallbackHandler({ quotas: [{ key: "tenant:{tenant_id}", limitUsd: 500, window: "month" }], store });
 * ```
 */
export class RedisBudgetStore implements BudgetStore {
  /** The ioredis client (close it with `close()`). */
  readonly client: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly settledTtlMs: number;
  private clock: { offsetMs: number; readAt: number } | undefined;

  constructor(options: RedisBudgetStoreOptions = {}) {
    const parsed = parseOptions(redisStoreOptions, options, "RedisBudgetStore", "");
    this.prefix = parsed.prefix ?? "lcm:";
    this.timeoutMs = parsed.timeoutMs ?? 1000;
    this.settledTtlMs = parsed.settledTtlMs ?? 24 * 60 * 60 * 1000;
    this.client = parsed.client ?? new Redis(parsed.url ?? "redis://127.0.0.1:6379", failFast(this.timeoutMs));
    // Without a listener, ioredis reports a lost connection as an unhandled 'error' event.
    if (!options.client) this.client.on("error", () => {});
    // EVALSHA, falling back to EVAL when Redis hasn't seen a script yet (ioredis does the dance).
    for (const [name, lua] of Object.entries(SCRIPTS)) this.client.defineCommand(name, { lua });
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
    const reply = await this.eval("lcmCheck", this.keys(limits), this.args(limits, "", 0, 0));
    return this.answer(limits, reply);
  }

  async reserve(callId: string, limits: readonly StoreLimit[], amountNano: number, ttlMs: number) {
    assertCallId(callId);
    assertLimits(limits);
    assertNano("amountNano", amountNano);
    assertTtl(ttlMs);
    const keys = [...this.keys(limits), this.marker(callId)];
    const reply = await this.eval("lcmReserve", keys, this.args(limits, callId, amountNano, ttlMs));
    if (reply[0] === -1) throw callEndedError(callId);
    return this.answer(limits, reply);
  }

  async settle(callId: string, limits: readonly StoreLimit[], costNano: number): Promise<LimitState[]> {
    assertCallId(callId);
    assertLimits(limits);
    assertNano("costNano", costNano);
    const keys = [...this.keys(limits), this.marker(callId)];
    return this.answer(limits, await this.eval("lcmSettle", keys, this.args(limits, callId, costNano, 0))).states;
  }

  async release(callId: string, limits: readonly StoreLimit[]): Promise<void> {
    assertCallId(callId);
    assertLimits(limits);
    const keys = [...this.keys(limits), this.marker(callId)];
    await this.eval("lcmRelease", keys, this.args(limits, callId, 0, 0));
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

  private keys(limits: readonly StoreLimit[]): string[] {
    return limits.flatMap(({ key }) => LIMIT_KEY_SUFFIXES.map((suffix) => `${this.prefix}${key}${suffix}`));
  }

  private marker(callId: string): string {
    return `${this.prefix}settled:${callId}`;
  }

  /** The scripts' common ARGV; every number as an integer string, so Lua never sees `1e+17`. */
  private args(limits: readonly StoreLimit[], callId: string, amountNano: number, ttlMs: number): string[] {
    const head = [String(this.settledTtlMs), callId, String(amountNano), String(ttlMs)];
    return [...head, ...limits.flatMap((l) => [String(l.limitNano), String(l.expiresAt ?? 0)])];
  }

  private answer(limits: readonly StoreLimit[], reply: ScriptReply): { states: LimitState[] } & Partial<Refusal> {
    if (!Array.isArray(reply) || reply.length !== 1 + 2 * limits.length) {
      throw new Error(
        `RedisBudgetStore: expected a script reply of ${1 + 2 * limits.length} values, got ${JSON.stringify(reply)}. ` +
          "Another version of langchain-metered may share this Redis prefix; give each its own `prefix`.",
      );
    }
    const states = limits.map((limit, i) => ({
      key: limit.key,
      limitNano: limit.limitNano,
      spentNano: Number(reply[1 + 2 * i]),
      reservedNano: Number(reply[2 + 2 * i]),
    }));
    const refused = states[Number(reply[0]) - 1];
    return refused ? { states, refused } : { states };
  }

  private eval(script: keyof typeof SCRIPTS, keys: string[], args: string[]): Promise<ScriptReply> {
    const command = (this.client as unknown as Record<string, (...a: Array<string | number>) => Promise<ScriptReply>>)[script];
    if (!command) throw new Error(`RedisBudgetStore: script ${script} is not defined on the client`);
    return this.run(() => command.call(this.client, keys.length, ...keys, ...args));
  }

  /** One operation under the store's own deadline, whatever the client's settings. */
  private run<T>(operation: () => Promise<T>): Promise<T> {
    return withinStoreTime(operation(), this.timeoutMs, () => new Error(
      `Redis did not answer within ${this.timeoutMs} ms (timeoutMs; time this process was blocked not counted). ` +
        "Check that Redis is up and reachable, or raise timeoutMs.",
    ));
  }
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
